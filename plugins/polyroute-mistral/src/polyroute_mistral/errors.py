"""Mistral error bodies → classified ``ProviderError``s.

Reference: https://docs.mistral.ai/api/ (error responses). The API answers in
three shapes, all read here:

- ``{"object": "error", "message": "...", "type": "...", "param": null, "code": "..."}``
  (validation and model errors, 400);
- ``{"message": "...", "request_id": "..."}`` from the gateway (401, 429);
- ``{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`` (422, request
  schema validation, as the OpenAPI ``HTTPValidationError``).

| status  | class                                                          |
|---------|----------------------------------------------------------------|
| 400/422 | BadRequestError; ContextWindowError when the prompt is "too    |
|         | large for model with N maximum context length"; ContentPolicy- |
|         | Error for a moderation / content-policy type or code           |
| 401/403 | AuthenticationError                                            |
| 404     | NotFoundError                                                  |
| 429     | RateLimitError (``retry-after``, else ``ratelimitbysize-reset``  |
|         | when the remaining budget is 0); QuotaExceededError for a      |
|         | monthly usage / spending limit                                 |
| 5xx     | ServerError; 503 OverloadedError                               |

Every error carries ``x-request-id`` / ``mistral-correlation-id`` when present.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from polyroute.errors import (
    ContentPolicyError,
    ContextWindowError,
    InvalidResponseError,
    OverloadedError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from polyroute.providers.classify import (
    error_class_for_status,
    parse_retry_after,
    request_id_from_headers,
)
from polyroute.secrets import redact

__all__ = ["classify_error", "error_fields", "request_id", "retry_after"]

_CONTEXT = re.compile(
    r"maximum context length|context (?:length|window)|too large for model|too many tokens"
    r"|prompt is too long", re.IGNORECASE)
_POLICY = re.compile(r"moderation|content[ _-]?policy|content[ _-]?filter", re.IGNORECASE)
_QUOTA = re.compile(r"usage limit|spending limit|monthly limit|insufficient (?:credit|balance)"
                    r"|quota", re.IGNORECASE)


def request_id(headers: Mapping[str, str]) -> str | None:
    return (request_id_from_headers(headers) or headers.get("mistral-correlation-id")
            or headers.get("x-kong-request-id"))


def retry_after(headers: Mapping[str, str]) -> float | None:
    seconds = parse_retry_after(headers)
    if seconds is not None:
        return seconds
    if headers.get("ratelimitbysize-remaining", "").strip() == "0":
        try:
            return max(0.0, float(headers.get("ratelimitbysize-reset", "")))
        except ValueError:
            return None
    return None


def error_fields(body: Any) -> tuple[str, str | None, str | None]:
    """(message, type, code) from any of Mistral's error shapes."""
    if not isinstance(body, Mapping):
        return "", None, None
    err = body.get("error")
    if isinstance(err, Mapping):  # OpenAI-style nesting, seen from some proxies
        body = err
    message: Any = body.get("message")
    if message is None and "detail" in body:
        detail = body["detail"]
        if isinstance(detail, list):
            message = "; ".join(
                f"{'.'.join(str(x) for x in d.get('loc') or [])}: {d.get('msg')}"
                for d in detail if isinstance(d, Mapping))
        else:
            message = detail
    if message is not None and not isinstance(message, str):
        message = json.dumps(message)
    etype, code = body.get("type"), body.get("code")
    return (message or "", str(etype) if etype is not None else None,
            str(code) if code is not None else None)


def classify_error(
    status: int | None, body: Any, headers: Mapping[str, str], provider: str, model: str,
    *, in_stream: bool = False,
) -> ProviderError:
    message, etype, code = error_fields(body)
    keys = " ".join(k for k in (etype, code) if k)
    cls: type[ProviderError]
    wait: float | None = None
    if _POLICY.search(keys) or (status in (400, 422) and _POLICY.search(message)):
        cls = ContentPolicyError
    elif status in (400, 413, 422, None) and _CONTEXT.search(message):
        cls = ContextWindowError
    elif status == 429 or "rate_limit" in keys:
        cls = QuotaExceededError if _QUOTA.search(message) else RateLimitError
        wait = retry_after(headers)
    elif status is not None:
        cls = error_class_for_status(status)
        if issubclass(cls, ServerError):
            wait = parse_retry_after(headers)
    elif "overloaded" in message.lower() or "capacity" in message.lower():
        cls = OverloadedError
    elif etype and ("server" in etype or "internal" in etype):
        cls = ServerError
    else:
        cls = StreamInterruptedError if in_stream else InvalidResponseError
    if not message:
        message = f"HTTP {status}" if status is not None else "error event without a message"
    return cls(
        ("in-band stream error: " if in_stream else "") + redact(message),
        provider=provider, model=model, status=status, retry_after=wait,
        request_id=request_id(headers), error_type=code or etype,
    )
