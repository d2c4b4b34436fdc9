"""Response parsing and error classification."""

from __future__ import annotations

import json
from typing import Any

import pytest

from polyroute.errors import (
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    ContextWindowError,
    InvalidResponseError,
    NotFoundError,
    OverloadedError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from polyroute.providers.base import HttpResponse, ProviderSettings
from polyroute.secrets import Secret
from polyroute.types import TextPart, ToolCallPart
from polyroute_openai import OpenAIProvider
from polyroute_openai.parse import parse_duration

KEY = "sk-proj-secretsecretsecret0123456789"
P = OpenAIProvider(ProviderSettings(name="oa", type="openai", api_key=Secret(KEY)))

# from https://platform.openai.com/docs/api-reference/chat/create (example "Default")
TEXT_EXAMPLE = {
    "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
    "object": "chat.completion",
    "created": 1741569952,
    "model": "gpt-4.1-2025-04-14",
    "choices": [{
        "index": 0,
        "message": {"role": "assistant", "content": "Hello! How can I assist you today?",
                    "refusal": None, "annotations": []},
        "logprobs": None,
        "finish_reason": "stop",
    }],
    "usage": {
        "prompt_tokens": 19, "completion_tokens": 10, "total_tokens": 29,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0,
                                      "rejected_prediction_tokens": 0},
    },
    "service_tier": "default",
}

# from https://platform.openai.com/docs/api-reference/chat/create (example "Functions")
TOOL_EXAMPLE = {
    "id": "chatcmpl-abc123",
    "object": "chat.completion",
    "created": 1699896916,
    "model": "gpt-4o-mini",
    "choices": [{
        "index": 0,
        "message": {"role": "assistant", "content": None, "tool_calls": [{
            "id": "call_abc123", "type": "function",
            "function": {"name": "get_current_weather",
                         "arguments": "{\n\"location\": \"Boston, MA\"\n}"}}]},
        "logprobs": None,
        "finish_reason": "tool_calls",
    }],
    "usage": {"prompt_tokens": 82, "completion_tokens": 17, "total_tokens": 99,
              "completion_tokens_details": {"reasoning_tokens": 0,
                                            "accepted_prediction_tokens": 0,
                                            "rejected_prediction_tokens": 0}},
}


def ok(body: Any, headers: dict[str, str] | None = None) -> HttpResponse:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpResponse(200, headers or {}, content)


def err(status: int, body: Any, headers: dict[str, str] | None = None) -> ProviderError:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return P.parse_error(HttpResponse(status, headers or {}, content), "gpt-4.1")


def test_text_example() -> None:
    r = P.parse_response(ok(TEXT_EXAMPLE, {"x-request-id": "req_1"}), "gpt-4.1")
    assert r.message.role == "assistant"
    assert r.message.content == "Hello! How can I assist you today?"
    assert r.finish_reason == "stop"
    assert (r.usage.input_tokens, r.usage.output_tokens) == (19, 10)
    assert r.response_id == "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT"
    assert r.response_model == "gpt-4.1-2025-04-14"
    assert r.provider == "oa" and r.model == "gpt-4.1"
    assert r.provider_metadata["service_tier"] == "default"
    assert r.provider_metadata["request_id"] == "req_1"


def test_tool_call_example() -> None:
    r = P.parse_response(ok(TOOL_EXAMPLE), "gpt-4o-mini")
    assert r.finish_reason == "tool_calls"
    assert r.message.tool_calls == [
        ToolCallPart(id="call_abc123", name="get_current_weather",
                     arguments={"location": "Boston, MA"})
    ]
    assert r.usage.total_tokens == 99


def test_usage_details_and_fingerprint() -> None:
    body = json.loads(json.dumps(TEXT_EXAMPLE))
    body["system_fingerprint"] = "fp_44709d6fcb"
    body["usage"]["prompt_tokens_details"]["cached_tokens"] = 12
    body["usage"]["completion_tokens_details"]["reasoning_tokens"] = 5
    r = P.parse_response(ok(body), "m")
    assert r.usage.cache_read_tokens == 12
    assert r.usage.reasoning_tokens == 5
    assert r.provider_metadata["system_fingerprint"] == "fp_44709d6fcb"


def test_text_and_tool_calls_together() -> None:
    body = json.loads(json.dumps(TOOL_EXAMPLE))
    body["choices"][0]["message"]["content"] = "Let me check."
    r = P.parse_response(ok(body), "m")
    assert isinstance(r.message.content, list)
    assert r.message.content[0] == TextPart(text="Let me check.")
    assert r.message.text == "Let me check."


@pytest.mark.parametrize(("raw", "mapped"), [
    ("stop", "stop"), ("length", "length"), ("tool_calls", "tool_calls"),
    ("content_filter", "content_filter"), ("function_call", "tool_calls"),
    ("something_new", "other"), (None, None),
])
def test_finish_reasons(raw: str | None, mapped: str | None) -> None:
    body = json.loads(json.dumps(TEXT_EXAMPLE))
    body["choices"][0]["finish_reason"] = raw
    assert P.parse_response(ok(body), "m").finish_reason == mapped


def test_refusal_becomes_text() -> None:
    body = json.loads(json.dumps(TEXT_EXAMPLE))
    body["choices"][0]["message"].update(content=None, refusal="I can't help with that.")
    r = P.parse_response(ok(body), "m")
    assert r.message.text == "I can't help with that."
    assert r.provider_metadata["refusal"] == "I can't help with that."


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b"{}", b'{"choices": []}', b'{"choices": [{"index": 0}]}',
    b'{"choices": [{"message": {"content": 5}}]}',
    b'{"choices": [{"message": {"tool_calls": [{"function": {}}]}}]}',
    b'{"choices": [{"message": {"tool_calls": "x"}}]}',
])
def test_malformed_bodies(body: bytes) -> None:
    with pytest.raises(InvalidResponseError) as info:
        P.parse_response(ok(body), "m")
    assert info.value.provider == "oa"


@pytest.mark.parametrize("arguments", ['{"location": "Bos', "[1, 2]", "nope"])
def test_invalid_tool_arguments(arguments: str) -> None:
    body = json.loads(json.dumps(TOOL_EXAMPLE))
    body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = arguments
    with pytest.raises(InvalidResponseError, match="get_current_weather"):
        P.parse_response(ok(body), "m")


def test_error_body_with_status_200() -> None:
    with pytest.raises(InvalidResponseError, match="boom"):
        P.parse_response(ok({"error": {"message": "boom", "type": "weird"}}), "m")


def test_parse_models() -> None:
    body = {"object": "list", "data": [{"id": "gpt-4.1", "object": "model"}, {"id": "o3"}]}
    assert P.parse_models(ok(body)) == ["gpt-4.1", "o3"]


# --- errors ------------------------------------------------------------------

RATE = {"error": {"message": "Rate limit reached for gpt-4.1 on requests per min (RPM)",
                  "type": "requests", "param": None, "code": "rate_limit_exceeded"}}


@pytest.mark.parametrize(("headers", "seconds"), [
    ({"retry-after": "7"}, 7.0),
    ({"retry-after-ms": "1500"}, 1.5),
    ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
    ({"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "6m0s"}, 360.0),
    ({"x-ratelimit-reset-requests": "20ms", "x-ratelimit-remaining-requests": "0",
      "x-ratelimit-reset-tokens": "6m0s", "x-ratelimit-remaining-tokens": "120"}, 0.02),
    ({"x-ratelimit-reset-tokens": "1m30.5s", "x-ratelimit-remaining-tokens": "0"}, 90.5),
    ({}, None),
])
def test_429_retry_after(headers: dict[str, str], seconds: float | None) -> None:
    e = err(429, RATE, {"x-request-id": "req_429", **headers})
    assert type(e) is RateLimitError and e.retryable and e.fallbackable
    assert e.retry_after == pytest.approx(seconds) if seconds is not None else e.retry_after is None
    assert e.status == 429 and e.request_id == "req_429"
    assert e.error_type == "rate_limit_exceeded"
    assert e.provider == "oa" and e.model == "gpt-4.1"


def test_insufficient_quota_is_not_retryable() -> None:
    body = {"error": {"message": "You exceeded your current quota, please check your plan "
                      "and billing details.", "type": "insufficient_quota", "param": None,
                      "code": "insufficient_quota"}}
    e = err(429, body, {"retry-after": "20"})
    assert type(e) is QuotaExceededError
    assert not e.retryable and e.fallbackable
    assert e.error_type == "insufficient_quota" and e.status == 429
    assert e.retry_after is None


@pytest.mark.parametrize(("status", "body", "cls", "etype"), [
    (400, {"error": {"message": "This model's maximum context length is 128000 tokens.",
                     "type": "invalid_request_error", "param": "messages",
                     "code": "context_length_exceeded"}}, ContextWindowError,
     "context_length_exceeded"),
    (400, {"error": {"message": "This model's maximum context length is 8192 tokens",
                     "type": "invalid_request_error", "param": None, "code": None}},
     ContextWindowError, "invalid_request_error"),
    (400, {"error": {"message": "Your request was rejected by our safety system.",
                     "type": "invalid_request_error", "param": None,
                     "code": "content_policy_violation"}}, ContentPolicyError,
     "content_policy_violation"),
    (400, {"error": {"message": "filtered", "code": "content_filter", "status": 400,
                     "innererror": {"code": "ResponsibleAIPolicyViolation"}}},
     ContentPolicyError, "content_filter"),
    (400, {"error": {"message": "Invalid value for 'temperature'",
                     "type": "invalid_request_error", "param": "temperature", "code": None}},
     BadRequestError, "invalid_request_error"),
    (401, {"error": {"message": "Incorrect API key provided: sk-proj-****6789.",
                     "type": "invalid_request_error", "param": None,
                     "code": "invalid_api_key"}}, AuthenticationError, "invalid_api_key"),
    (403, {"error": {"message": "Country, region, or territory not supported",
                     "type": "request_forbidden", "param": None,
                     "code": "unsupported_country_region_territory"}},
     AuthenticationError, "unsupported_country_region_territory"),
    (404, {"error": {"message": "The model `gpt-9` does not exist",
                     "type": "invalid_request_error", "param": None,
                     "code": "model_not_found"}}, NotFoundError, "model_not_found"),
    (500, {"error": {"message": "The server had an error while processing your request.",
                     "type": "server_error", "param": None, "code": None}},
     ServerError, "server_error"),
    (503, {"error": {"message": "The engine is currently overloaded, please try again later",
                     "type": "server_error", "param": None, "code": None}},
     OverloadedError, "server_error"),
    (502, b"<html>Bad gateway</html>", ServerError, None),
    (503, b"", OverloadedError, None),
    (418, b"{not json", BadRequestError, None),
])
def test_error_table(status: int, body: Any, cls: type[ProviderError], etype: str | None) -> None:
    e = err(status, body, {"x-request-id": "req_x"})
    assert type(e) is cls
    assert e.status == status and e.request_id == "req_x"
    assert e.provider == "oa" and e.model == "gpt-4.1"
    assert e.error_type == etype
    assert str(e)  # renders


def test_server_errors_are_retryable() -> None:
    assert err(500, {"error": {"message": "x", "type": "server_error"}}).retryable
    assert err(503, b"").retryable
    assert not err(401, {"error": {"message": "x"}}).retryable


def test_non_json_error_body_is_quoted() -> None:
    e = err(502, b"<html>Bad gateway</html>")
    assert "Bad gateway" in str(e)


def test_azure_request_id_header() -> None:
    e = err(500, b"", {"apim-request-id": "apim-1"})
    assert e.request_id == "apim-1"


def test_key_never_in_error_messages() -> None:
    body = {"error": {"message": f"Incorrect API key provided: {KEY}",
                      "type": "invalid_request_error", "code": "invalid_api_key"}}
    P.api_key()  # revealed once, so redact() knows it
    e = err(401, body)
    assert KEY not in str(e) and KEY not in repr(e) and KEY not in e.reason
    e2 = err(502, f"proxy saw Bearer {KEY}".encode())
    assert KEY not in str(e2)


@pytest.mark.parametrize(("text", "seconds"), [
    ("1s", 1.0), ("6m0s", 360.0), ("20ms", 0.02), ("1h2m3s", 3723.0), ("0.5s", 0.5),
    ("3", 3.0), ("", None), (None, None), ("soon", None), ("5x", None),
])
def test_parse_duration(text: str | None, seconds: float | None) -> None:
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)
