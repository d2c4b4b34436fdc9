"""Response parsing (sans-IO): Messages API bodies → ChatResponse."""

from __future__ import annotations

import json
from typing import Any

import pytest

from polyroute.errors import InvalidResponseError, OverloadedError
from polyroute.providers.base import HttpResponse
from polyroute.types import ToolCallPart
from polyroute_anthropic import AnthropicProvider

MODEL = "claude-sonnet-4-5"


def ok(data: Any, headers: dict[str, str] | None = None) -> HttpResponse:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return HttpResponse(200, {"content-type": "application/json", **(headers or {})}, raw)


# from https://docs.claude.com/en/api/messages (response example)
REFERENCE_TEXT = {
    "content": [{"text": "Hi! My name is Claude.", "type": "text"}],
    "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
    "model": "claude-sonnet-4-5-20250929",
    "role": "assistant",
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "type": "message",
    "usage": {"input_tokens": 2095, "output_tokens": 503},
}

# from https://docs.claude.com/en/docs/agents-and-tools/tool-use/overview (tool use response)
REFERENCE_TOOL_USE = {
    "id": "msg_01Aq9w938a90dw8q",
    "model": "claude-opus-4-1-20250805",
    "stop_reason": "tool_use",
    "role": "assistant",
    "type": "message",
    "content": [
        {"type": "text", "text": "I'll check the current weather in San Francisco for you."},
        {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather",
         "input": {"location": "San Francisco, CA", "unit": "celsius"}},
    ],
    "usage": {"input_tokens": 384, "output_tokens": 67},
}

# from https://docs.claude.com/en/docs/build-with-claude/extended-thinking (response shape)
REFERENCE_THINKING = {
    "id": "msg_01Thinking", "type": "message", "role": "assistant", "model": MODEL,
    "content": [
        {"type": "thinking", "thinking": "Let me analyze this step by step...",
         "signature": "WaUjzkypQ2mUEVM36O2TxuC06KN8xyfbJwyem2dw3URve/op91XWHOEBLLqIOMfFG/UvLEcz"},
        {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIw"},
        {"type": "text", "text": "Based on my analysis..."},
    ],
    "stop_reason": "end_turn", "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 300},
}


def test_reference_text_response(provider: AnthropicProvider) -> None:
    resp = provider.parse_response(ok(REFERENCE_TEXT, {"request-id": "req_1"}), MODEL)
    assert resp.message.role == "assistant"
    assert resp.message.text == "Hi! My name is Claude."
    assert resp.finish_reason == "stop"
    assert resp.response_id == "msg_013Zva2CMHLNnXjNJJKqJ2EF"
    assert resp.response_model == "claude-sonnet-4-5-20250929"
    assert resp.provider == "anthropic" and resp.model == MODEL
    assert resp.usage.input_tokens == 2095 and resp.usage.output_tokens == 503
    assert resp.usage.total_tokens == 2598


def test_reference_tool_use_response(provider: AnthropicProvider) -> None:
    resp = provider.parse_response(ok(REFERENCE_TOOL_USE), MODEL)
    assert resp.finish_reason == "tool_calls"
    assert resp.message.text == "I'll check the current weather in San Francisco for you."
    assert resp.message.tool_calls == [ToolCallPart(
        id="toolu_01A09q90qw90lq917835lq9", name="get_weather",
        arguments={"location": "San Francisco, CA", "unit": "celsius"})]


def test_thinking_is_kept_out_of_the_text(provider: AnthropicProvider) -> None:
    resp = provider.parse_response(ok(REFERENCE_THINKING), MODEL)
    assert resp.message.text == "Based on my analysis..."
    thinking = resp.provider_metadata["thinking"]
    assert [b["type"] for b in thinking] == ["thinking", "redacted_thinking"]
    assert thinking[0]["signature"].startswith("WaUj")


def test_cache_usage_counts_into_input(provider: AnthropicProvider) -> None:
    # usage fields from https://docs.claude.com/en/docs/build-with-claude/prompt-caching
    data = {**REFERENCE_TEXT, "usage": {
        "input_tokens": 50, "cache_creation_input_tokens": 248,
        "cache_read_input_tokens": 1800, "output_tokens": 503}}
    usage = provider.parse_response(ok(data), MODEL).usage
    assert usage.input_tokens == 50 + 248 + 1800
    assert usage.cache_write_tokens == 248
    assert usage.cache_read_tokens == 1800
    assert usage.output_tokens == 503


@pytest.mark.parametrize(
    ("stop_reason", "expected"),
    [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"),
     ("tool_use", "tool_calls"), ("refusal", "content_filter"), ("pause_turn", "other"),
     ("model_context_window_exceeded", "length"), ("something_new", "other"), (None, None)],
)
def test_stop_reason_mapping(
    provider: AnthropicProvider, stop_reason: str | None, expected: str | None
) -> None:
    data = {**REFERENCE_TEXT, "stop_reason": stop_reason}
    assert provider.parse_response(ok(data), MODEL).finish_reason == expected


def test_stop_sequence_is_reported(provider: AnthropicProvider) -> None:
    data = {**REFERENCE_TEXT, "stop_reason": "stop_sequence", "stop_sequence": "END"}
    resp = provider.parse_response(ok(data), MODEL)
    assert resp.provider_metadata["stop_sequence"] == "END"


def test_json_tool_becomes_text(provider: AnthropicProvider) -> None:
    data = {**REFERENCE_TEXT, "stop_reason": "tool_use", "content": [
        {"type": "tool_use", "id": "toolu_9", "name": "structured_output__Person",
         "input": {"name": "Ada", "age": 36}}]}
    resp = provider.parse_response(ok(data), MODEL)
    assert json.loads(resp.message.text) == {"name": "Ada", "age": 36}
    assert resp.message.tool_calls == []
    assert resp.finish_reason == "stop"


def test_unknown_blocks_go_to_metadata(provider: AnthropicProvider) -> None:
    block = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search",
             "input": {"query": "x"}}
    data = {**REFERENCE_TEXT, "content": [block, *REFERENCE_TEXT["content"]]}
    resp = provider.parse_response(ok(data), MODEL)
    assert resp.message.text == "Hi! My name is Claude."
    assert resp.provider_metadata["other_blocks"] == [block]


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "x", "cho',
        b"[]",
        b"null",
        json.dumps({**REFERENCE_TEXT, "content": None}).encode(),
        json.dumps({**REFERENCE_TEXT, "content": ["text"]}).encode(),
        json.dumps({**REFERENCE_TEXT, "content": [{"type": "text"}]}).encode(),
        json.dumps({**REFERENCE_TEXT, "content": [{"type": "tool_use", "id": "t"}]}).encode(),
        json.dumps({**REFERENCE_TEXT, "content": [
            {"type": "tool_use", "id": "t", "name": "f", "input": "nope"}]}).encode(),
        json.dumps({**REFERENCE_TEXT, "type": "completion"}).encode(),
    ],
)
def test_malformed_bodies_raise_invalid_response(
    provider: AnthropicProvider, body: bytes
) -> None:
    with pytest.raises(InvalidResponseError) as info:
        provider.parse_response(ok(body, {"request-id": "req_bad"}), MODEL)
    assert info.value.provider == "anthropic"
    assert info.value.model == MODEL
    assert info.value.status == 200


def test_error_body_with_200_is_classified(provider: AnthropicProvider) -> None:
    data = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with pytest.raises(OverloadedError):
        provider.parse_response(ok(data), MODEL)


def test_usage_missing_counts_zero(provider: AnthropicProvider) -> None:
    data = {k: v for k, v in REFERENCE_TEXT.items() if k != "usage"}
    assert provider.parse_response(ok(data), MODEL).usage.total_tokens == 0
