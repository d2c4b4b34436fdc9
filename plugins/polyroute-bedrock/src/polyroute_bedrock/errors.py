"""Bedrock error responses and in-stream exceptions → classified ``ProviderError``s.

References: the "Errors" sections of
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html and
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html,
the stream exceptions of
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStreamOutput.html,
and the common errors of https://docs.aws.amazon.com/bedrock/latest/APIReference/CommonErrors.html.
An error response is ``{"message": "..."}`` with the type in the
``x-amzn-ErrorType`` header (``ThrottlingException:http://internal.amazon.com/...``)
and the request id in ``x-amzn-RequestId``; some bodies carry ``__type`` too.

| type                                  | status | class                              |
|---------------------------------------|--------|------------------------------------|
| ThrottlingException                   | 429    | RateLimitError                     |
| ServiceQuotaExceededException         | 400    | QuotaExceededError                 |
| ModelNotReadyException                | 429    | OverloadedError (see below)        |
| ModelTimeoutException                 | 408    | ProviderTimeoutError               |
| ModelErrorException                   | 424    | ServerError                        |
| ModelStreamErrorException (in-stream) | 424    | ServerError                        |
| InternalServerException               | 500    | ServerError                        |
| ServiceUnavailableException           | 503    | OverloadedError                    |
| ValidationException                   | 400    | BadRequestError; ContextWindowError|
|                                       |        | for "Input is too long" and kin;   |
|                                       |        | ContentPolicyError for content-    |
|                                       |        | filtering refusals                 |
| AccessDeniedException, Unrecognized-  | 403    | AuthenticationError                |
| Client, InvalidSignature, ExpiredToken|        |                                    |
| ResourceNotFoundException             | 404    | NotFoundError                      |

``ModelNotReadyException`` is an ``OverloadedError`` (a retryable
``ServerError``), not a ``RateLimitError``: it says the *model* is not ready
to serve yet (an imported or on-demand model still loading — the AWS SDKs
retry it up to five times), not that *this caller* sent too much. Counting it
as the caller's rate limit would throttle the deployment's own request
budget for a server-side warm-up; as "overloaded" it is retried with backoff
and may fall back, like a 503.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

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
from polyroute.providers.classify import request_id_from_headers

__all__ = ["classify", "error_from_body", "error_type_of"]

_BY_TYPE: dict[str, type[ProviderError]] = {
    "throttlingexception": RateLimitError,
    "servicequotaexceededexception": QuotaExceededError,
    "modelnotreadyexception": OverloadedError,
    "modeltimeoutexception": ProviderTimeoutError,
    "modelerrorexception": ServerError,
    "modelstreamerrorexception": ServerError,
    "internalserverexception": ServerError,
    "serviceunavailableexception": OverloadedError,
    "validationexception": BadRequestError,
    "accessdeniedexception": AuthenticationError,
    "unrecognizedclientexception": AuthenticationError,
    "invalidsignatureexception": AuthenticationError,
    "incompletesignatureexception": AuthenticationError,
    "expiredtokenexception": AuthenticationError,
    "missingauthenticationtokenexception": AuthenticationError,
    "resourcenotfoundexception": NotFoundError,
}

# "Input is too long for requested model.", "too many input tokens",
# Anthropic's "prompt is too long: 210000 tokens > 200000 maximum",
# "... exceeds the maximum context length ...".
_CONTEXT = re.compile(
    r"input is too long|too many (?:input )?tokens|prompt is too long"
    r"|context (?:length|window|limit)|maximum context",
    re.IGNORECASE,
)
_CONTENT = re.compile(r"content filtering|content polic|blocked by", re.IGNORECASE)


def error_type_of(headers: Mapping[str, str], data: object) -> str | None:
    """``ThrottlingException`` from ``x-amzn-ErrorType`` or the body's ``__type``/``code``."""
    raw = headers.get("x-amzn-errortype")
    if not raw and isinstance(data, dict):
        raw = data.get("__type") or data.get("code") or data.get("Code")
    if not isinstance(raw, str) or not raw:
        return None
    return raw.split(":", 1)[0].rsplit("#", 1)[-1]


def classify(error_type: str | None, message: str, status: int | None) -> type[ProviderError]:
    """The class for an error ``type``/``message``; by ``status`` when the type is unknown."""
    cls = errors_table.class_from_table(_BY_TYPE, (error_type or "").lower(), status)
    if cls is BadRequestError or (cls is ServerError and error_type is None):
        if _CONTEXT.search(message):
            return ContextWindowError
        if _CONTENT.search(message):
            return ContentPolicyError
    return cls


def error_from_body(
    body: bytes, *, status: int | None, headers: Mapping[str, str], provider: str, model: str,
    error_type: str | None = None,
) -> ProviderError:
    """Classify an error response, or (``status=None``) an in-stream exception payload."""
    data = errors_table.error_json(body)
    error_type = error_type or error_type_of(headers, data)
    message = None
    if isinstance(data, dict):
        raw = data.get("message") or data.get("Message")
        message = raw if isinstance(raw, str) else None
    if message is None:
        message = errors_table.body_snippet(body) or f"HTTP {status} with empty body"
    cls = classify(error_type, message, status)
    return errors_table.provider_error(
        cls, f"{error_type}: {message}" if error_type else message,
        provider=provider, model=model, status=status,
        retry_after=errors_table.retry_after_for(cls, headers, status),
        request_id=request_id_from_headers(headers), error_type=error_type,
    )
