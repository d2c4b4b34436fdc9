"""Stream parsing (sans-IO): SSE bytes → SSEDecoder → AnthropicStreamParser → chunks."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from polyroute.errors import (
    InvalidResponseError,
    OverloadedError,
    RateLimitError,
    StreamInterruptedError,
)
from polyroute.providers.base import StreamEvent, StreamParser
from polyroute.types import ChatChunk
from polyroute_anthropic import AnthropicProvider

Run = Callable[[StreamParser, bytes], list[ChatChunk]]
MODEL = "claude-opus-4-1"

# from https://docs.claude.com/en/docs/build-with-claude/streaming ("Basic streaming request")
REFERENCE_TEXT_STREAM = b"""event: message_start
data: {"type": "message_start", "message": {"id": "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY", "type": "message", "role": "assistant", "content": [], "model": "claude-opus-4-1-20250805", "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 25, "output_tokens": 1}}}

event: content_block_start
data: {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}

event: content_block_delta
data: {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "!"}}

event: content_block_stop
data: {"type": "content_block_stop", "index": 0}

event: message_delta
data: {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence":null}, "usage": {"output_tokens": 15}}

event: message_stop
data: {"type": "message_stop"}

"""  # noqa: E501

# from https://docs.claude.com/en/docs/build-with-claude/streaming ("Streaming request with
# tool use"), shortened to fewer text deltas
REFERENCE_TOOL_STREAM = b"""event: message_start
data: {"type":"message_start","message":{"id":"msg_014p7gG3wDgGV9EUtLvnow3U","type":"message","role":"assistant","model":"claude-opus-4-1-20250805","stop_sequence":null,"usage":{"input_tokens":472,"output_tokens":2},"content":[],"stop_reason":null}}

event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}

event: ping
data: {"type": "ping"}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Okay"}}

event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":", let's check the weather."}}

event: content_block_stop
data: {"type":"content_block_stop","index":0}

event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_01T1x1fJ34qAmk2tNTrN7Up6","name":"get_weather","input":{}}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\\"location\\":"}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":" \\"San Francisco, CA\\""}}

event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":", \\"unit\\": \\"fahrenheit\\"}"}}

event: content_block_stop
data: {"type":"content_block_stop","index":1}

event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":89}}

event: message_stop
data: {"type":"message_stop"}

"""  # noqa: E501


def test_reference_text_stream(provider: AnthropicProvider, run_stream: Run) -> None:
    chunks = run_stream(provider.stream_parser(MODEL), REFERENCE_TEXT_STREAM)
    assert "".join(c.text for c in chunks) == "Hello!"
    assert chunks[0].response_id == "msg_1nZdL29xx5MUA1yADyHTEsnR8uuvGzszyY"
    assert chunks[0].response_model == "claude-opus-4-1-20250805"
    final = chunks[-1]
    assert final.finish_reason == "stop"
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens) == (25, 15)
    assert all(c.finish_reason is None and c.usage is None for c in chunks[:-1])
    assert all(c.provider == "anthropic" and c.model == MODEL for c in chunks)


def test_reference_tool_stream(provider: AnthropicProvider, run_stream: Run) -> None:
    chunks = run_stream(provider.stream_parser(MODEL), REFERENCE_TOOL_STREAM)
    assert "".join(c.text for c in chunks) == "Okay, let's check the weather."
    deltas = [d for c in chunks for d in c.tool_calls]
    assert deltas[0].index == 1
    assert (deltas[0].id, deltas[0].name) == ("toolu_01T1x1fJ34qAmk2tNTrN7Up6", "get_weather")
    assert all(d.index == 1 for d in deltas)
    args = "".join(d.arguments for d in deltas)
    assert json.loads(args) == {"location": "San Francisco, CA", "unit": "fahrenheit"}
    assert chunks[-1].finish_reason == "tool_calls"
    assert chunks[-1].usage is not None and chunks[-1].usage.output_tokens == 89


def test_byte_by_byte_feeding(provider: AnthropicProvider) -> None:
    from polyroute.framing import SSEDecoder

    parser, decoder = provider.stream_parser(MODEL), SSEDecoder()
    chunks: list[ChatChunk] = []
    for i in range(len(REFERENCE_TEXT_STREAM)):
        for event in decoder.feed(REFERENCE_TEXT_STREAM[i:i + 1]):
            chunks.extend(parser.feed(event))
    assert list(parser.close()) == []
    assert "".join(c.text for c in chunks) == "Hello!"


def test_missing_message_stop_raises_interrupted(
    provider: AnthropicProvider, run_stream: Run
) -> None:
    cut = REFERENCE_TEXT_STREAM.split(b"event: message_stop")[0]
    with pytest.raises(StreamInterruptedError, match="message_stop") as info:
        run_stream(provider.stream_parser(MODEL), cut)
    assert info.value.provider == "anthropic" and info.value.model == MODEL


def test_empty_stream_raises_interrupted(provider: AnthropicProvider, run_stream: Run) -> None:
    with pytest.raises(StreamInterruptedError, match="before message_start"):
        run_stream(provider.stream_parser(MODEL), b"")


# the in-band error event from https://docs.claude.com/en/docs/build-with-claude/streaming
# ("Error events")
IN_BAND_ERROR = (
    b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", '
    b'"message": "Overloaded"}}\n\n'
)


def test_in_band_overloaded_error(provider: AnthropicProvider, run_stream: Run) -> None:
    head = REFERENCE_TEXT_STREAM.split(b"event: content_block_stop")[0]
    with pytest.raises(OverloadedError) as info:
        run_stream(provider.stream_parser(MODEL), head + IN_BAND_ERROR)
    err = info.value
    assert err.retryable
    assert err.error_type == "overloaded_error"
    assert (err.provider, err.model) == ("anthropic", MODEL)
    assert "Overloaded" in str(err)


def test_in_band_rate_limit_and_unknown_error(provider: AnthropicProvider) -> None:
    parser = provider.stream_parser(MODEL)
    data = {"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}}
    with pytest.raises(RateLimitError):
        list(parser.feed(StreamEvent(data=json.dumps(data), event="error")))
    parser = provider.stream_parser(MODEL)
    data = {"type": "error", "error": {"type": "brand_new_error", "message": "?"}}
    with pytest.raises(StreamInterruptedError):
        list(parser.feed(StreamEvent(data=json.dumps(data), event="error")))


def test_message_delta_usage_is_cumulative_and_cache_counts(
    provider: AnthropicProvider,
) -> None:
    parser = provider.stream_parser(MODEL)
    events = [
        {"type": "message_start", "message": {"id": "m", "model": "x", "content": [], "usage": {
            "input_tokens": 12, "cache_creation_input_tokens": 100,
            "cache_read_input_tokens": 900, "output_tokens": 1}}},
        {"type": "message_delta", "delta": {"stop_reason": "max_tokens"},
         "usage": {"output_tokens": 10}},
        {"type": "message_delta", "delta": {}, "usage": {"output_tokens": 30}},
        {"type": "message_stop"},
    ]
    chunks = [c for e in events for c in parser.feed(StreamEvent(data=json.dumps(e)))]
    usage = chunks[-1].usage
    assert usage is not None
    assert (usage.input_tokens, usage.cache_write_tokens, usage.cache_read_tokens) == (
        1012, 100, 900)
    assert usage.output_tokens == 30
    assert chunks[-1].finish_reason == "length"


def test_thinking_deltas_stay_out_of_text(provider: AnthropicProvider) -> None:
    from polyroute_anthropic import AnthropicStreamParser

    parser = provider.stream_parser(MODEL)
    assert isinstance(parser, AnthropicStreamParser)
    events = [
        {"type": "message_start", "message": {"id": "m", "model": "x", "content": []}},
        {"type": "content_block_start", "index": 0,
         "content_block": {"type": "thinking", "thinking": ""}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "thinking_delta", "thinking": "Let me think"}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "signature_delta", "signature": "EqQBCgIYAhIM"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "42"}},
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {}},
        {"type": "message_stop"},
    ]
    chunks = [c for e in events for c in parser.feed(StreamEvent(data=json.dumps(e)))]
    assert "".join(c.text for c in chunks) == "42"
    assert parser.thinking == [
        {"type": "thinking", "thinking": "Let me think", "signature": "EqQBCgIYAhIM"}]


def test_json_tool_streams_as_text(provider: AnthropicProvider) -> None:
    parser = provider.stream_parser(MODEL)
    events = [
        {"type": "message_start", "message": {"id": "m", "model": "x", "content": []}},
        {"type": "content_block_start", "index": 0, "content_block": {
            "type": "tool_use", "id": "toolu_1", "name": "structured_output__P", "input": {}}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "input_json_delta", "partial_json": '{"name": '}},
        {"type": "content_block_delta", "index": 0,
         "delta": {"type": "input_json_delta", "partial_json": '"Ada"}'}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {}},
        {"type": "message_stop"},
    ]
    chunks = [c for e in events for c in parser.feed(StreamEvent(data=json.dumps(e)))]
    assert json.loads("".join(c.text for c in chunks)) == {"name": "Ada"}
    assert not any(c.tool_calls for c in chunks)
    assert chunks[-1].finish_reason == "stop"


def test_unknown_events_and_pings_are_ignored(provider: AnthropicProvider) -> None:
    parser = provider.stream_parser(MODEL)
    assert list(parser.feed(StreamEvent(data='{"type": "ping"}', event="ping"))) == []
    assert list(parser.feed(StreamEvent(data='{"type": "future_event", "x": 1}'))) == []
    assert list(parser.feed(StreamEvent(data=""))) == []


@pytest.mark.parametrize(
    "data",
    ["not json", "[1, 2]", '{"type": "message_start"}',
     '{"type": "content_block_delta", "delta": {"type": "text_delta", "text": "x"}}',
     '{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta"}}'],
)
def test_malformed_events_raise_interrupted(provider: AnthropicProvider, data: str) -> None:
    parser = provider.stream_parser(MODEL)
    with pytest.raises(InvalidResponseError):
        list(parser.feed(StreamEvent(data=data)))


def test_events_after_message_stop_are_ignored(
    provider: AnthropicProvider, run_stream: Run
) -> None:
    raw = REFERENCE_TEXT_STREAM + b'event: ping\ndata: {"type": "ping"}\n\n'
    chunks = run_stream(provider.stream_parser(MODEL), raw)
    assert chunks[-1].finish_reason == "stop"
