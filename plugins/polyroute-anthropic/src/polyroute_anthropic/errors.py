"""Anthropic error bodies → classified ``ProviderError``s.

Reference: https://docs.claude.com/en/api/errors — every error body is
``{"type": "error", "error": {"type": ..., "message": ...}, "request_id": ...}``
and every response has a ``request-id`` header. Rate limits:
https://docs.claude.com/en/api/rate-limits — ``retry-after`` (seconds) on 429,
and ``anthropic-ratelimit-*-reset`` headers holding RFC 3339 timestamps.

| error.type              | status | class                                            |
|-------------------------|--------|--------------------------------------------------|
| invalid_request_error   | 400    | BadRequestError; ContextWindowError if the       |
|                         |        | prompt is too long; ContentPolicyError if output |
|                         |        | was blocked by the content filtering policy      |
| authentication_error    | 401    | AuthenticationError                              |
| billing_error           | 402    | AuthenticationError (the key cannot be used)     |
| permission_error        | 403    | AuthenticationError                              |
| not_found_error         | 404    | NotFoundError                                    |
| request_too_large       | 413    | BadRequestError (see below)                      |
| rate_limit_error        | 429    | RateLimitError (QuotaExceededError if the monthly   |
|                         |        | spend limit is reached: not retryable)           |
| api_error               | 500    | ServerError                                      |
| timeout_error           | 504    | ProviderTimeoutError                             |
| overloaded_error        | 529    | OverloadedError                                  |

``request_too_large`` is a ``BadRequestError``, not a ``ContextWindowError``:
it is the 32 MB *byte* limit (big images or PDFs), enforced by Cloudflare in
front of the API before any token is counted. A model with a larger context
window would reject it just the same, so the router must not read it as
"try a bigger model"; another provider may still take it (fallback allowed).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import datetime

from polyroute.errors import (
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    ContextWindowError,
    NotFoundError,
    OverloadedError,
    ProviderError,
    ProviderTimeoutError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from polyroute.providers import errors_table
from polyroute.providers.classify import parse_retry_after, request_id_from_headers

__all__ = ["classify", "error_from_body", "retry_after_from_headers"]


_BY_TYPE: dict[str, type[ProviderError]] = {
    "invalid_request_error": BadRequestError,
    "authentication_error": AuthenticationError,
    "billing_error": AuthenticationError,
    "permission_error": AuthenticationError,
    "not_found_error": NotFoundError,
    "request_too_large": BadRequestError,
    "rate_limit_error": RateLimitError,
    "api_error": ServerError,
    "timeout_error": ProviderTimeoutError,
    "overloaded_error": OverloadedError,
}

# "prompt is too long: 208310 tokens > 200000 maximum" and
# "input length and `max_tokens` exceed context limit: 197000 + 8192 > 200000, ..."
_CONTEXT = re.compile(
    r"prompt is too long|exceed(?:s|ed)? (?:the )?context (?:limit|window)"
    r"|context window|too many (?:input )?tokens",
    re.IGNORECASE,
)
_CONTENT_POLICY = re.compile(r"content filtering policy", re.IGNORECASE)

_RESET_HEADERS = ("requests", "tokens", "input-tokens", "output-tokens")


def classify(
    error_type: str | None, message: str, status: int | None, details: object = None
) -> type[ProviderError]:
    """The error class for an Anthropic ``error.type`` (falling back to the status)."""
    cls = errors_table.class_from_table(_BY_TYPE, error_type, status)
    if cls is BadRequestError and error_type == "invalid_request_error":
        if _CONTEXT.search(message):
            return ContextWindowError
        if _CONTENT_POLICY.search(message):
            return ContentPolicyError
    if cls is RateLimitError and isinstance(details, dict) and (
        details.get("error_code") == "enforced_spend_limit_reached"
    ):
        return QuotaExceededError
    return cls


def _rfc3339(value: str) -> float | None:
    try:
        return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def retry_after_from_headers(
    headers: Mapping[str, str], now: float | None = None
) -> float | None:
    """Seconds to wait: ``retry-after`` if given, else the ``anthropic-ratelimit-*-reset``.

    Of the reset timestamps, those of exhausted limits (``...-remaining: 0``)
    count, and the latest of them wins; if none says it is exhausted, the
    earliest reset is used.
    """
    seconds = parse_retry_after(headers, now)
    if seconds is not None:
        return seconds
    now = time.time() if now is None else now
    exhausted: list[float] = []
    other: list[float] = []
    for name in _RESET_HEADERS:
        value = headers.get(f"anthropic-ratelimit-{name}-reset")
        when = _rfc3339(value) if value else None
        if when is None:
            continue
        remaining = headers.get(f"anthropic-ratelimit-{name}-remaining", "").strip()
        (exhausted if remaining == "0" else other).append(max(0.0, when - now))
    if exhausted:
        return max(exhausted)
    return min(other) if other else None


def error_from_body(
    body: bytes,
    *,
    status: int | None,
    headers: Mapping[str, str],
    provider: str,
    model: str,
    now: float | None = None,
) -> ProviderError:
    """Classify an Anthropic error response (or an in-band stream ``error`` event)."""
    error_type: str | None = None
    details: object = None
    request_id = request_id_from_headers(headers)
    data = errors_table.error_json(body)
    err = data.get("error") if isinstance(data, dict) else None
    if isinstance(err, dict):
        raw_type, raw_message = err.get("type"), err.get("message")
        error_type = raw_type if isinstance(raw_type, str) else None
        message = raw_message if isinstance(raw_message, str) else f"{error_type or 'error'}"
        details = err.get("details")
        body_id = data.get("request_id") if isinstance(data, dict) else None
        request_id = request_id or (body_id if isinstance(body_id, str) else None)
    else:
        message = errors_table.fallback_message(body, status)
    cls = classify(error_type, message, status, details)
    return errors_table.provider_error(
        cls, message, provider=provider, model=model, status=status,
        retry_after=errors_table.retry_after_for(
            cls, headers, status, lambda h: retry_after_from_headers(h, now)),
        request_id=request_id, error_type=error_type,
    )
