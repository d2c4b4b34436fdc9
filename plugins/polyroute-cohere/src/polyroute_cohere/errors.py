"""Cohere error bodies → classified ``ProviderError``s.

Reference: https://docs.cohere.com/reference/errors — a non-2xx response is
``{"message": "..."}`` (v2 adds an ``id``), with example messages per status.
The status codes the Chat API and SDKs use:

| status | meaning (reference)                      | class                         |
|--------|------------------------------------------|-------------------------------|
| 400    | invalid request; "too many tokens: ..."  | BadRequestError;              |
|        |                                          | ContextWindowError for "too   |
|        |                                          | many tokens"; ContentPolicy-  |
|        |                                          | Error for "blocked input/     |
|        |                                          | output" (Usage Guidelines)    |
| 401    | invalid api token                        | AuthenticationError           |
| 402    | payment required (billing limit)         | QuotaExceededError            |
| 403    | forbidden                                | AuthenticationError           |
| 404    | model / resource not found               | NotFoundError                 |
| 422    | unprocessable entity                     | BadRequestError (same checks) |
| 429    | "You are past the per minute request     | RateLimitError;               |
|        | limit"; trial key limits                 | QuotaExceededError for the    |
|        |                                          | trial key's monthly limit     |
| 498    | invalid token (``InvalidTokenError``)    | AuthenticationError           |
| 499    | request cancelled ("try again")          | ServerError (retryable)       |
| 500    | internal server error                    | ServerError                   |
| 503    | service unavailable                      | OverloadedError               |
| 504    | gateway timeout                          | ProviderTimeoutError          |
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
    ProviderError,
    ProviderTimeoutError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from polyroute.providers import errors_table
from polyroute.providers.classify import error_class_for_status, request_id_from_headers

__all__ = ["classify", "error_from_body", "error_message"]

_BY_STATUS: dict[int, type[ProviderError]] = {
    402: QuotaExceededError,
    422: BadRequestError,
    498: AuthenticationError,
    499: ServerError,
    504: ProviderTimeoutError,
}
_CONTEXT = re.compile(r"too many tokens|context (?:length|window)|prompt is too long",
                      re.IGNORECASE)
_POLICY = re.compile(r"blocked (?:input|output)|usage guidelines|content (?:policy|filter)"
                     r"|safety", re.IGNORECASE)
_MONTHLY = re.compile(r"per month|/ ?month|monthly", re.IGNORECASE)


def classify(status: int | None, message: str) -> type[ProviderError]:
    if status is None:
        return StreamInterruptedError
    cls = _BY_STATUS.get(status) or error_class_for_status(status)
    if cls is BadRequestError:
        if _POLICY.search(message):
            return ContentPolicyError
        if _CONTEXT.search(message):
            return ContextWindowError
    if cls is RateLimitError and _MONTHLY.search(message):
        return QuotaExceededError
    return cls


def error_message(data: Any) -> tuple[str | None, str | None]:
    """(message, id) from an error body."""
    if not isinstance(data, Mapping):
        return None, None
    message, rid = data.get("message"), data.get("id")
    return (message if isinstance(message, str) else None,
            rid if isinstance(rid, str) else None)


def error_from_body(body: bytes, *, status: int, headers: Mapping[str, str], provider: str,
                    model: str) -> ProviderError:
    message, rid = error_message(errors_table.error_json(body))
    if message is None:
        message = errors_table.fallback_message(body, status, collapse=True)
    cls = classify(status, message)
    return errors_table.provider_error(
        cls, message, provider=provider, model=model, status=status,
        retry_after=errors_table.retry_after_for(cls, headers),
        request_id=request_id_from_headers(headers) or headers.get("x-trace-id") or rid)
