"""Error classification (sans-IO): Anthropic error responses → ProviderError classes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

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
from polyroute.providers.base import HttpResponse
from polyroute_anthropic import AnthropicProvider
from polyroute_anthropic.errors import error_from_body, retry_after_from_headers

MODEL = "claude-sonnet-4-5"


def error_response(status: int, error_type: str, message: str,
                   headers: dict[str, str] | None = None) -> HttpResponse:
    # body shape from https://docs.claude.com/en/api/errors ("Error shapes")
    body = {"type": "error", "error": {"type": error_type, "message": message},
            "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy"}
    return HttpResponse(status, {"request-id": "req_011CSHoEeqs5C35K2UUqR7Fy",
                                 **(headers or {})}, json.dumps(body).encode())


@pytest.mark.parametrize(
    ("status", "error_type", "message", "cls"),
    [
        (400, "invalid_request_error", "messages: roles must alternate", BadRequestError),
        (400, "invalid_request_error", "prompt is too long: 208310 tokens > 200000 maximum",
         ContextWindowError),
        (400, "invalid_request_error",
         "input length and `max_tokens` exceed context limit: 197000 + 8192 > 200000, "
         "decrease input length or `max_tokens` and try again", ContextWindowError),
        (400, "invalid_request_error", "Output blocked by content filtering policy",
         ContentPolicyError),
        (401, "authentication_error", "invalid x-api-key", AuthenticationError),
        (402, "billing_error", "credit balance too low", AuthenticationError),
        (403, "permission_error", "no access to model", AuthenticationError),
        (404, "not_found_error", "model: claude-nope", NotFoundError),
        (413, "request_too_large", "Request exceeds the maximum allowed number of bytes.",
         BadRequestError),
        (429, "rate_limit_error", "Number of request tokens has exceeded your per-minute "
         "rate limit", RateLimitError),
        (500, "api_error", "Internal server error", ServerError),
        (504, "timeout_error", "Request timed out", ProviderTimeoutError),
        (529, "overloaded_error", "Overloaded", OverloadedError),
        (418, "teapot_error", "unknown type falls back to the status", BadRequestError),
        (502, "unknown_error", "unknown type falls back to the status", ServerError),
    ],
)
def test_classification_table(
    provider: AnthropicProvider, status: int, error_type: str, message: str,
    cls: type[ProviderError],
) -> None:
    err = provider.parse_error(error_response(status, error_type, message), MODEL)
    assert type(err) is cls
    assert err.provider == "anthropic"
    assert err.model == MODEL
    assert err.status == status
    assert err.request_id == "req_011CSHoEeqs5C35K2UUqR7Fy"
    assert err.error_type == error_type
    assert message in str(err)


def test_request_too_large_is_not_a_context_window_error(provider: AnthropicProvider) -> None:
    err = provider.parse_error(error_response(413, "request_too_large", "too big"), MODEL)
    assert not isinstance(err, ContextWindowError)
    assert err.fallbackable and not err.retryable


def test_429_with_retry_after(provider: AnthropicProvider) -> None:
    err = provider.parse_error(
        error_response(429, "rate_limit_error", "rate limited", {"retry-after": "17"}), MODEL)
    assert isinstance(err, RateLimitError)
    assert err.retry_after == 17.0
    assert err.retryable
    assert "retry after 17s" in str(err)


def test_429_retry_after_from_ratelimit_reset_headers() -> None:
    now = datetime(2025, 10, 1, 12, 0, 0, tzinfo=UTC)
    headers = {
        "anthropic-ratelimit-requests-remaining": "10",
        "anthropic-ratelimit-requests-reset": (now + timedelta(seconds=5)).isoformat(),
        "anthropic-ratelimit-input-tokens-remaining": "0",
        "anthropic-ratelimit-input-tokens-reset": "2025-10-01T12:00:30Z",
        "anthropic-ratelimit-tokens-remaining": "0",
        "anthropic-ratelimit-tokens-reset": "2025-10-01T12:00:20Z",
    }
    body = json.dumps({"type": "error", "error": {"type": "rate_limit_error",
                                                  "message": "slow"}}).encode()
    err = error_from_body(body, status=429, headers=headers, provider="p", model="m",
                          now=now.timestamp())
    assert err.retry_after == 30.0  # the latest reset among the exhausted limits
    # nothing marked exhausted: the earliest reset
    loose = {k: v for k, v in headers.items() if "remaining" not in k}
    assert retry_after_from_headers(loose, now=now.timestamp()) == 5.0
    # retry-after wins over the reset headers
    assert retry_after_from_headers({**headers, "retry-after": "2"}, now=now.timestamp()) == 2.0
    assert retry_after_from_headers({"anthropic-ratelimit-tokens-reset": "garbage"}) is None


def test_spend_limit_is_not_retryable(provider: AnthropicProvider) -> None:
    body = {"type": "error", "error": {
        "type": "rate_limit_error", "message": "spend limit reached",
        "details": {"error_code": "enforced_spend_limit_reached"}}}
    err = provider.parse_error(HttpResponse(429, {}, json.dumps(body).encode()), MODEL)
    assert isinstance(err, QuotaExceededError) and isinstance(err, RateLimitError)
    assert not err.retryable


def test_529_overloaded(provider: AnthropicProvider) -> None:
    err = provider.parse_error(error_response(529, "overloaded_error", "Overloaded",
                                              {"retry-after": "3"}), MODEL)
    assert isinstance(err, OverloadedError)
    assert err.retryable and err.fallbackable
    assert err.retry_after == 3.0


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (500, b"<html>Internal Server Error</html>", ServerError),
        (502, b"", ServerError),
        (413, b"<html><center>413 Request Entity Too Large</center></html>", BadRequestError),
        (400, b'{"type": "error", "error": "just a string"}', BadRequestError),
        (401, b"[1]", AuthenticationError),
        (529, b'{"unexpected": true}', OverloadedError),
    ],
)
def test_malformed_error_bodies_fall_back_to_status(
    provider: AnthropicProvider, status: int, body: bytes, cls: type[ProviderError]
) -> None:
    err = provider.parse_error(HttpResponse(status, {"request-id": "req_x"}, body), MODEL)
    assert type(err) is cls
    assert err.status == status and err.request_id == "req_x"
    assert f"HTTP {status}" in str(err)


def test_request_id_from_body_when_header_missing(provider: AnthropicProvider) -> None:
    resp = error_response(500, "api_error", "boom")
    resp = HttpResponse(500, {}, resp.content)
    assert provider.parse_error(resp, MODEL).request_id == "req_011CSHoEeqs5C35K2UUqR7Fy"


def test_error_message_never_contains_the_key(provider: AnthropicProvider) -> None:
    key = provider.api_key()
    assert key is not None
    echoed = f"invalid x-api-key: {key}"
    err = provider.parse_error(error_response(401, "authentication_error", echoed), MODEL)
    assert key not in str(err) and key not in repr(err) and key not in err.reason
