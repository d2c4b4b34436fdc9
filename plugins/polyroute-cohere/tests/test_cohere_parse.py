"""Cohere /v2/chat bodies and error bodies → ChatResponse / classified errors.

Shapes from https://docs.cohere.com/reference/chat (response) and
https://docs.cohere.com/reference/errors (status codes and example messages).
"""

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
    ProviderTimeoutError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from polyroute.providers.base import HttpResponse, ProviderSettings
from polyroute_cohere import CohereProvider

P = CohereProvider(ProviderSettings(name="cohere", type="cohere", api_key="k"))
USAGE = {"billed_units": {"input_tokens": 5, "output_tokens": 418},
         "tokens": {"input_tokens": 71, "output_tokens": 420}}


def parse(body: Any) -> Any:
    return P.parse_response(HttpResponse(200, {}, json.dumps(body).encode()), "m")


def test_text_and_billed_usage() -> None:
    out = parse({"id": "c14c80c3-18eb-4519-9460-6c92edd8cfb4", "finish_reason": "COMPLETE",
                 "message": {"role": "assistant", "content": [
                     {"type": "thinking", "thinking": "The user wants..."},
                     {"type": "text", "text": "LLMs are neural networks."}]},
                 "usage": USAGE})
    assert out.message.content == "LLMs are neural networks."
    assert out.finish_reason == "stop"
    assert (out.usage.input_tokens, out.usage.output_tokens) == (5, 418)
    assert out.provider_metadata["usage"]["tokens"]["input_tokens"] == 71
    assert out.provider_metadata["thinking"] == ["The user wants..."]
    assert out.response_id == "c14c80c3-18eb-4519-9460-6c92edd8cfb4"


def test_tool_calls_and_plan() -> None:
    out = parse({"id": "x", "finish_reason": "TOOL_CALL", "message": {
        "role": "assistant", "tool_plan": "I will use the get_weather tool.",
        "tool_calls": [{"id": "get_weather_1byjy32y4hvq", "type": "function", "function": {
            "name": "get_weather", "arguments": "{\"location\":\"Toronto\"}"}}]},
        "usage": USAGE})
    assert out.finish_reason == "tool_calls"
    [call] = out.message.tool_calls
    assert (call.id, call.arguments) == ("get_weather_1byjy32y4hvq", {"location": "Toronto"})
    assert out.provider_metadata["tool_plan"] == "I will use the get_weather tool."


@pytest.mark.parametrize(("reason", "neutral"), [("STOP_SEQUENCE", "stop"),
                                                 ("MAX_TOKENS", "length"),
                                                 ("ERROR", "error"), ("TIMEOUT", "error"),
                                                 ("NEW_THING", "other")])
def test_finish_reasons(reason: str, neutral: str) -> None:
    out = parse({"finish_reason": reason, "message": {"role": "assistant", "content": []}})
    assert out.finish_reason == neutral and out.usage.total_tokens == 0


def test_malformed() -> None:
    with pytest.raises(InvalidResponseError, match="no message"):
        parse({"id": "x"})
    with pytest.raises(InvalidResponseError, match="not JSON"):
        P.parse_response(HttpResponse(200, {}, b"nope"), "m")


@pytest.mark.parametrize(("status", "message", "cls"), [
    (400, "invalid request: message must be at least 1 token long.", BadRequestError),
    (400, "too many tokens: total number of tokens in the prompt cannot exceed 4081 - "
          "received 4292. Try using a shorter prompt.", ContextWindowError),
    (400, "blocked output: please adjust your prompt and try again, as this generation may "
          "be a potential violation of our Usage Guidelines", ContentPolicyError),
    (401, "invalid api token", AuthenticationError),
    (402, "Please add a payment method", QuotaExceededError),
    (404, "model 'command-x' not found", NotFoundError),
    (422, "unprocessable", BadRequestError),
    (429, "You are past the per minute request limit, please wait and try again later.",
     RateLimitError),
    (429, "You are using a Trial key, which is limited to 1000 API calls / month.",
     QuotaExceededError),
    (498, "invalid token", AuthenticationError),
    (499, "request cancelled", ServerError),
    (500, "internal server error", ServerError),
    (503, "service unavailable", OverloadedError),
    (504, "gateway timeout", ProviderTimeoutError),
])
def test_error_table(status: int, message: str, cls: type[ProviderError]) -> None:
    body = json.dumps({"id": "0d2e2a3b-5f7e-4f61-9a2f-8d1c9b0e4a11", "message": message})
    err = P.parse_error(HttpResponse(status, {"retry-after": "2"}, body.encode()), "m")
    assert type(err) is cls and err.status == status and err.reason == message
    assert err.request_id == "0d2e2a3b-5f7e-4f61-9a2f-8d1c9b0e4a11"
    if cls in (RateLimitError, ServerError):
        assert err.retry_after == 2 and err.retryable


def test_non_json_error() -> None:
    err = P.parse_error(HttpResponse(502, {}, b"<html>bad gateway</html>"), "m")
    assert type(err) is ServerError and "bad gateway" in err.reason
