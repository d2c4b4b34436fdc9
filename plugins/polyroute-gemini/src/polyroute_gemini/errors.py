"""Gemini / Vertex AI error bodies → classified ``ProviderError``s.

References: https://ai.google.dev/gemini-api/docs/troubleshooting (backend
error codes), https://cloud.google.com/apis/design/errors (the
``{"error": {"code", "message", "status", "details"}}`` shape and the
``google.rpc`` detail types) and https://ai.google.dev/gemini-api/docs/rate-limits.
Streams without ``alt=sse`` wrap the body in a JSON array; both are read.

| status               | HTTP | class                                              |
|----------------------|------|----------------------------------------------------|
| INVALID_ARGUMENT     | 400  | BadRequestError; ContextWindowError when the input |
|                      |      | token count exceeds the model's limit;             |
|                      |      | AuthenticationError for ``API_KEY_INVALID``        |
| FAILED_PRECONDITION  | 400  | AuthenticationError (free tier unavailable in the  |
|                      |      | region / billing not enabled: the key cannot be    |
|                      |      | used here, another provider may answer)            |
| UNAUTHENTICATED      | 401  | AuthenticationError (Vertex: bad or expired token) |
| PERMISSION_DENIED    | 403  | AuthenticationError                                |
| NOT_FOUND            | 404  | NotFoundError                                      |
| RESOURCE_EXHAUSTED   | 429  | RateLimitError, ``retry_after`` from ``RetryInfo`` |
|                      |      | (``retryDelay``; a ``retry-after`` header wins);   |
|                      |      | QuotaExceededError when a                          |
|                      |      | ``QuotaFailure`` names a per-day quota             |
| CANCELLED            | 499  | ServerError                                        |
| INTERNAL             | 500  | ServerError                                        |
| UNAVAILABLE          | 503  | OverloadedError ("The model is overloaded")        |
| DEADLINE_EXCEEDED    | 504  | ProviderTimeoutError                               |

Safety blocks are not HTTP errors: a 200 body with ``promptFeedback.blockReason``
or a candidate ``finishReason`` of ``SAFETY``, ``PROHIBITED_CONTENT``... is
turned into ``ContentPolicyError`` by ``policy_error`` (see ``parse``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

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
    StreamInterruptedError,
)
from polyroute.providers import errors_table
from polyroute.providers.classify import parse_retry_after, request_id_from_headers
from polyroute.secrets import redact

__all__ = ["classify", "error_from_body", "error_from_data", "parse_duration", "policy_error"]

_BY_STATUS: dict[str, type[ProviderError]] = {
    "INVALID_ARGUMENT": BadRequestError,
    "FAILED_PRECONDITION": AuthenticationError,
    "OUT_OF_RANGE": BadRequestError,
    "UNAUTHENTICATED": AuthenticationError,
    "PERMISSION_DENIED": AuthenticationError,
    "NOT_FOUND": NotFoundError,
    "RESOURCE_EXHAUSTED": RateLimitError,
    "CANCELLED": ServerError,
    "INTERNAL": ServerError,
    "UNKNOWN": ServerError,
    "UNAVAILABLE": OverloadedError,
    "DEADLINE_EXCEEDED": ProviderTimeoutError,
}

# "The input token count (1196265) exceeds the maximum number of tokens allowed (1048576)."
_CONTEXT = re.compile(
    r"input token count.*exceeds|exceeds the maximum number of tokens|"
    r"context (?:window|length)|prompt is too long|too many tokens",
    re.IGNORECASE,
)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")
_API_KEY_REASONS = {"API_KEY_INVALID", "API_KEY_SERVICE_BLOCKED", "API_KEY_HTTP_REFERRER_BLOCKED"}


def parse_duration(value: object) -> float | None:
    """Seconds from a protobuf ``Duration`` in JSON (``"37s"``, ``"0.5s"``)."""
    if not isinstance(value, str):
        return None
    m = _DURATION.match(value)
    return float(m.group(1)) if m else None


def _details(err: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    details = err.get("details")
    return [d for d in details if isinstance(d, Mapping)] if isinstance(details, list) else []


def _typed(details: list[Mapping[str, Any]], suffix: str) -> list[Mapping[str, Any]]:
    return [d for d in details if str(d.get("@type", "")).endswith(suffix)]


def classify(
    grpc_status: str | None, message: str, http_status: int | None,
    details: list[Mapping[str, Any]],
) -> type[ProviderError]:
    """The error class for a Google API error (falling back to the HTTP status)."""
    cls = errors_table.class_from_table(_BY_STATUS, grpc_status, http_status)
    if cls is StreamInterruptedError:
        return cls
    reasons = {str(d.get("reason")) for d in _typed(details, "google.rpc.ErrorInfo")}
    if reasons & _API_KEY_REASONS or "api key not valid" in message.lower():
        return AuthenticationError
    if cls is BadRequestError and _CONTEXT.search(message):
        return ContextWindowError
    if cls is RateLimitError:
        for failure in _typed(details, "google.rpc.QuotaFailure"):
            for violation in failure.get("violations") or []:
                if isinstance(violation, Mapping) and "PerDay" in str(
                    violation.get("quotaId", "")
                ):
                    return QuotaExceededError
    return cls


def _retry_after(details: list[Mapping[str, Any]], headers: Mapping[str, str]) -> float | None:
    # An explicit Retry-After header (a proxy in front, say) wins over RetryInfo.
    seconds = parse_retry_after(headers)
    if seconds is not None:
        return seconds
    for info in _typed(details, "google.rpc.RetryInfo"):
        seconds = parse_duration(info.get("retryDelay"))
        if seconds is not None:
            return seconds
    return None


def error_from_data(
    data: Any, *, status: int | None, headers: Mapping[str, str], provider: str, model: str,
    raw: bytes = b"",
) -> ProviderError:
    """Classify a decoded error body (``{"error": ...}`` or ``[{"error": ...}]``)."""
    if isinstance(data, list) and data and isinstance(data[0], Mapping):
        data = data[0]
    err = data.get("error") if isinstance(data, Mapping) else None
    grpc_status: str | None = None
    details: list[Mapping[str, Any]] = []
    if isinstance(err, Mapping):
        raw_status, raw_message = err.get("status"), err.get("message")
        grpc_status = raw_status if isinstance(raw_status, str) else None
        message = raw_message if isinstance(raw_message, str) and raw_message else (
            grpc_status or "error")
        details = _details(err)
        code = err.get("code")
        if status is None and grpc_status is None and isinstance(code, int):
            status = code  # in-band error without a status name: classify by its code
    else:
        message = errors_table.fallback_message(raw, status)
    cls = classify(grpc_status, message, status, details)
    return errors_table.provider_error(
        cls, message, provider=provider, model=model, status=status,
        # in-band errors too: their RetryInfo details say how long to wait
        retry_after=errors_table.retry_after_for(
            cls, headers, read=lambda h: _retry_after(details, h)),
        request_id=request_id_from_headers(headers), error_type=grpc_status,
    )


def error_from_body(
    body: bytes, *, status: int | None, headers: Mapping[str, str], provider: str, model: str,
) -> ProviderError:
    """Classify a non-2xx response body."""
    return error_from_data(errors_table.error_json(body), status=status, headers=headers,
                           provider=provider, model=model, raw=body)


def policy_error(
    reason: str, *, where: str, provider: str, model: str, detail: str = "",
) -> ContentPolicyError:
    """A safety block (``blockReason`` / ``finishReason``) as ``ContentPolicyError``."""
    text = f"Gemini blocked the {where} ({reason})"
    if detail:
        text += f": {detail}"
    return ContentPolicyError(
        redact(text), provider=provider, model=model, status=200, error_type=reason,
    )
