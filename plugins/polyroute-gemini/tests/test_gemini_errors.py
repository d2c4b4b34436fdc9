"""Error bodies → classified errors.

Shapes from https://ai.google.dev/gemini-api/docs/troubleshooting and
https://cloud.google.com/apis/design/errors (google.rpc RetryInfo, QuotaFailure,
ErrorInfo details).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from polyroute.errors import (
    AuthenticationError,
    BadRequestError,
    ContextWindowError,
    NotFoundError,
    OverloadedError,
    ProviderError,
    ProviderTimeoutError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from polyroute.providers.base import HttpResponse
from polyroute_gemini import GeminiProvider
from polyroute_gemini.errors import parse_duration


def error(provider: GeminiProvider, status: int, body: Any,
          headers: dict[str, str] | None = None) -> ProviderError:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return provider.parse_error(HttpResponse(status, headers or {}, content), "gemini-2.5-pro")


def google(code: int, status: str, message: str, *details: dict[str, Any]) -> dict[str, Any]:
    err: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details:
        err["details"] = list(details)
    return {"error": err}


RETRY = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "18s"}


def quota(quota_id: str) -> dict[str, Any]:
    return {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [{"quotaMetric": "generativelanguage.googleapis.com/"
                                           "generate_content_free_tier_requests",
                            "quotaId": quota_id}]}


def test_rate_limit_with_retry_info(provider: GeminiProvider) -> None:
    err = error(provider, 429, google(429, "RESOURCE_EXHAUSTED", "You exceeded your current "
                                      "quota.", quota("GenerateRequestsPerMinutePerProject"
                                                      "PerModel-FreeTier"), RETRY))
    assert type(err) is RateLimitError
    assert err.retry_after == 18 and err.retryable
    assert (err.status, err.error_type) == (429, "RESOURCE_EXHAUSTED")


def test_daily_quota_is_not_retryable(provider: GeminiProvider) -> None:
    err = error(provider, 429, google(429, "RESOURCE_EXHAUSTED", "quota",
                                      quota("GenerateRequestsPerDayPerProjectPerModel-FreeTier"),
                                      RETRY))
    assert isinstance(err, QuotaExceededError)
    assert not err.retryable and err.fallbackable


def test_retry_after_header_wins(provider: GeminiProvider) -> None:
    err = error(provider, 429, google(429, "RESOURCE_EXHAUSTED", "x", RETRY),
                {"retry-after": "2"})
    assert err.retry_after == 2


@pytest.mark.parametrize(("status", "name", "message", "cls"), [
    (400, "INVALID_ARGUMENT", "Invalid JSON payload received.", BadRequestError),
    (400, "INVALID_ARGUMENT", "The input token count (1196265) exceeds the maximum number of "
                              "tokens allowed (1048576).", ContextWindowError),
    (400, "FAILED_PRECONDITION", "User location is not supported for the API use.",
     AuthenticationError),
    (401, "UNAUTHENTICATED", "Request had invalid authentication credentials.",
     AuthenticationError),
    (403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers.",
     AuthenticationError),
    (404, "NOT_FOUND", "models/gemini-9 is not found for API version v1beta.", NotFoundError),
    (500, "INTERNAL", "An internal error has occurred.", ServerError),
    (503, "UNAVAILABLE", "The model is overloaded. Please try again later.", OverloadedError),
    (504, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.",
     ProviderTimeoutError),
])
def test_status_table(provider: GeminiProvider, status: int, name: str, message: str,
                      cls: type[ProviderError]) -> None:
    err = error(provider, status, google(status, name, message))
    assert type(err) is cls
    assert err.reason == message and err.status == status


def test_invalid_key_is_auth_even_as_400(provider: GeminiProvider) -> None:
    info = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID",
            "domain": "googleapis.com"}
    err = error(provider, 400, google(400, "INVALID_ARGUMENT", "API key not valid. Please pass "
                                      "a valid API key.", info))
    assert isinstance(err, AuthenticationError) and not err.retryable


def test_array_wrapped_and_non_json(provider: GeminiProvider) -> None:
    err = error(provider, 503, [google(503, "UNAVAILABLE", "busy")])
    assert isinstance(err, OverloadedError)
    err = error(provider, 502, b"<html>Bad Gateway</html>")
    assert type(err) is ServerError and "Bad Gateway" in err.reason


def test_key_is_never_echoed(provider: GeminiProvider) -> None:
    leaked = "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"
    err = error(provider, 400, google(400, "INVALID_ARGUMENT", f"bad key {leaked}"))
    assert leaked not in str(err)


@pytest.mark.parametrize(("value", "seconds"), [("37s", 37.0), ("0.5s", 0.5), ("1m", None),
                                                (5, None)])
def test_parse_duration(value: object, seconds: float | None) -> None:
    assert parse_duration(value) == seconds
