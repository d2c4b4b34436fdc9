"""Mistral response and error bodies → ChatResponse / classified errors.

Shapes from https://docs.mistral.ai/api/#tag/chat (ChatCompletionResponse,
finish_reason enum ``stop``/``length``/``model_length``/``error``/``tool_calls``),
https://docs.mistral.ai/capabilities/reasoning/ (thinking chunks) and the
API's error responses.
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
    QuotaExceededError,
    RateLimitError,
    ServerError,
)
from polyroute.providers.base import HttpResponse, ProviderSettings
from polyroute_mistral import MistralProvider

P = MistralProvider(ProviderSettings(name="mistral", type="mistral", api_key="k"))


def parse(body: Any) -> Any:
    return P.parse_response(HttpResponse(200, {}, json.dumps(body).encode()), "m")


def err(status: int, body: Any, headers: dict[str, str] | None = None) -> ProviderError:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return P.parse_error(HttpResponse(status, headers or {}, raw), "m")


def test_text_completion() -> None:
    out = parse({"id": "cmpl-e5cc70bb28c444948073e77776eb30ef", "object": "chat.completion",
                 "created": 1702256327, "model": "mistral-small-latest",
                 "choices": [{"index": 0, "message": {"role": "assistant",
                                                      "content": "Bonjour!", "tool_calls": None},
                              "finish_reason": "stop"}],
                 "usage": {"prompt_tokens": 16, "completion_tokens": 34, "total_tokens": 50}})
    assert (out.message.content, out.finish_reason) == ("Bonjour!", "stop")
    assert (out.usage.input_tokens, out.usage.output_tokens) == (16, 34)
    assert out.response_id == "cmpl-e5cc70bb28c444948073e77776eb30ef"


def test_tool_calls_and_model_length() -> None:
    out = parse({"choices": [{"message": {"role": "assistant", "content": "", "tool_calls": [
        {"id": "D681PevKs", "type": "function", "function": {
            "name": "retrieve_payment_status", "arguments": "{\"transaction_id\": \"T1001\"}"}}]},
        "finish_reason": "tool_calls"}]})
    [call] = out.message.tool_calls
    assert (call.id, call.arguments) == ("D681PevKs", {"transaction_id": "T1001"})
    out = parse({"choices": [{"message": {"content": "cut"}, "finish_reason": "model_length"}]})
    assert out.finish_reason == "length"
    with pytest.raises(InvalidResponseError, match="not JSON"):
        parse({"choices": [{"message": {"tool_calls": [{"function": {
            "name": "f", "arguments": "{oops"}}]}}]})


def test_thinking_chunks_stay_out_of_text() -> None:
    out = parse({"choices": [{"message": {"role": "assistant", "content": [
        {"type": "thinking", "thinking": [{"type": "text", "text": "2+2 is 4"}]},
        {"type": "text", "text": "4"}]}, "finish_reason": "stop"}]})
    assert out.message.text == "4"
    assert out.provider_metadata["thinking"] == ["2+2 is 4"]


@pytest.mark.parametrize(("status", "body", "cls"), [
    (401, {"message": "Unauthorized", "request_id": "a1b2"}, AuthenticationError),
    (404, {"object": "error", "message": "Invalid model: mistral-huge", "type":
           "invalid_model", "param": None, "code": "1500"}, NotFoundError),
    (400, {"object": "error", "message": "Prompt contains 140000 tokens and 0 draft tokens, "
           "too large for model with 131072 maximum context length",
           "type": "invalid_request_error", "param": None, "code": None}, ContextWindowError),
    (422, {"detail": [{"type": "extra_forbidden", "loc": ["body", "seed"],
                       "msg": "Extra inputs are not permitted", "input": 1}]}, BadRequestError),
    (400, {"object": "error", "message": "flagged", "type": "moderation_error"},
     ContentPolicyError),
    (429, {"message": "Requests rate limit exceeded", "request_id": "r"}, RateLimitError),
    (429, {"message": "You have exceeded your monthly usage limit"}, QuotaExceededError),
    (500, {"object": "error", "message": "Internal server error",
           "type": "internal_server_error", "param": None, "code": None}, ServerError),
    (503, b"upstream connect error", OverloadedError),
])
def test_error_classes(status: int, body: Any, cls: type[ProviderError]) -> None:
    e = err(status, body)
    assert type(e) is cls and e.status == status


def test_error_details() -> None:
    e = err(429, {"message": "Requests rate limit exceeded"},
            {"retry-after": "3", "mistral-correlation-id": "corr-1"})
    assert (e.retry_after, e.request_id) == (3, "corr-1")
    e = err(429, {"message": "x"}, {"ratelimitbysize-remaining": "0",
                                    "ratelimitbysize-reset": "12"})
    assert e.retry_after == 12
    e = err(422, {"detail": [{"loc": ["body", "seed"], "msg": "Extra inputs are not permitted",
                              "type": "extra_forbidden"}]})
    assert e.reason == "body.seed: Extra inputs are not permitted"
    e = err(400, {"object": "error", "message": "bad key sk-proj-abcdefghijklmnopqrstuvwxyz012345"})
    assert "abcdefghijklmnopqrstuvwxyz" not in str(e)


def test_error_body_with_200() -> None:
    with pytest.raises(ServerError):
        parse({"object": "error", "message": "Internal error", "type": "internal_server_error"})
