"""Stream parsing: SSE bytes → SSEDecoder → OpenAIStreamParser → ChatChunks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from polyroute.errors import (
    ContextWindowError,
    InvalidResponseError,
    RateLimitError,
    StreamInterruptedError,
)
from polyroute.framing import SSEDecoder
from polyroute.providers.base import ProviderSettings, StreamEvent
from polyroute.secrets import Secret
from polyroute.testing.streams import parse_stream
from polyroute.types import ChatChunk
from polyroute_openai import OpenAIProvider

P = OpenAIProvider(ProviderSettings(name="oa", type="openai", api_key=Secret("sk-x")))


def ev(data: Any) -> bytes:
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()


def base(**kw: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-123", "object": "chat.completion.chunk", "created": 1694268190,
            "model": "gpt-4o-mini", "system_fingerprint": "fp_44709d6fcb", **kw}


def delta(d: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return base(choices=[{"index": 0, "delta": d, "logprobs": None, "finish_reason": finish}])


def run(body: bytes, *, split: int = 7) -> list[ChatChunk]:
    """Feed ``body`` in awkward pieces, as a network would."""
    return parse_stream(P.stream_parser("gpt-4o-mini"), body, step=split)


# from https://platform.openai.com/docs/api-reference/chat/create (example "Streaming"),
# plus the usage chunk described under stream_options.include_usage
TEXT_STREAM = b"".join([
    ev(delta({"role": "assistant", "content": ""})),
    ev(delta({"content": "Hello"})),
    ev(delta({"content": "! How can I help?"})),
    ev(delta({}, "stop")),
    ev(base(choices=[], usage={"prompt_tokens": 9, "completion_tokens": 6, "total_tokens": 15,
                               "prompt_tokens_details": {"cached_tokens": 4},
                               "completion_tokens_details": {"reasoning_tokens": 2}})),
    ev("[DONE]"),
])


def test_text_stream() -> None:
    chunks = run(TEXT_STREAM)
    assert "".join(c.text for c in chunks) == "Hello! How can I help?"
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    usage = [c.usage for c in chunks if c.usage]
    assert len(usage) == 1 and usage[0] is not None
    assert (usage[0].input_tokens, usage[0].output_tokens) == (9, 6)
    assert usage[0].cache_read_tokens == 4 and usage[0].reasoning_tokens == 2
    assert all(c.response_id == "chatcmpl-123" for c in chunks)
    assert all(c.response_model == "gpt-4o-mini" and c.provider == "oa" for c in chunks)


def test_byte_at_a_time_and_crlf() -> None:
    assert "".join(c.text for c in run(TEXT_STREAM, split=1)) == "Hello! How can I help?"
    crlf = TEXT_STREAM.replace(b"\n", b"\r\n")
    assert "".join(c.text for c in run(crlf, split=3)) == "Hello! How can I help?"


TOOL_STREAM = b"".join([
    ev(delta({"role": "assistant", "content": None, "tool_calls": [
        {"index": 0, "id": "call_a", "type": "function",
         "function": {"name": "get_weather", "arguments": ""}}]})),
    ev(delta({"tool_calls": [{"index": 0, "function": {"arguments": '{"loc'}}]})),
    ev(delta({"tool_calls": [{"index": 0, "function": {"arguments": 'ation": "Paris"}'}}]})),
    ev(delta({"tool_calls": [{"index": 1, "id": "call_b", "type": "function",
                              "function": {"name": "get_time", "arguments": "{}"}}]})),
    ev(delta({}, "tool_calls")),
    ev(base(choices=[], usage={"prompt_tokens": 20, "completion_tokens": 12,
                               "total_tokens": 32})),
    ev("[DONE]"),
])


def test_tool_call_deltas() -> None:
    chunks = run(TOOL_STREAM)
    deltas = [d for c in chunks for d in c.tool_calls]
    assert [(d.index, d.id, d.name) for d in deltas] == [
        (0, "call_a", "get_weather"), (0, None, None), (0, None, None),
        (1, "call_b", "get_time"),
    ]
    joined: dict[int, str] = {}
    for d in deltas:
        joined[d.index] = joined.get(d.index, "") + d.arguments
    assert json.loads(joined[0]) == {"location": "Paris"}
    assert json.loads(joined[1]) == {}
    assert chunks[-2].finish_reason == "tool_calls"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 32


def test_truncated_stream_raises_on_close() -> None:
    body = TEXT_STREAM[: TEXT_STREAM.index(b"data: [DONE]")]
    with pytest.raises(StreamInterruptedError, match="DONE"):
        run(body)
    cut = TEXT_STREAM[:40]  # mid-event
    with pytest.raises((StreamInterruptedError, InvalidResponseError)):
        run(cut)


def test_in_band_error_event() -> None:
    body = ev(delta({"content": "Hi"})) + ev(
        {"error": {"message": "The server had an error", "type": "server_error",
                   "param": None, "code": None}})
    decoder, parser = SSEDecoder(), P.stream_parser("m")
    events = list(decoder.feed(body))
    assert [c.text for c in parser.feed(events[0])] == ["Hi"]
    with pytest.raises(Exception) as info:
        list(parser.feed(events[1]))
    assert type(info.value).__name__ == "ServerError"
    assert info.value.retryable  # type: ignore[attr-defined]
    assert "in-band" in str(info.value)


@pytest.mark.parametrize(("error", "cls"), [
    ({"message": "x", "type": "weird", "code": None}, StreamInterruptedError),
    ({"message": "too long", "code": "context_length_exceeded"}, ContextWindowError),
    ({"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"},
     RateLimitError),
])
def test_in_band_error_classes(error: dict[str, Any], cls: type[Exception]) -> None:
    parser = P.stream_parser("m")
    with pytest.raises(cls):
        list(parser.feed(StreamEvent(data=json.dumps({"error": error}))))


def test_events_after_done_are_ignored_and_empty_chunks_skipped() -> None:
    parser = P.stream_parser("m")
    assert list(parser.feed(StreamEvent(data=json.dumps(delta({"role": "assistant"}))))) == []
    assert list(parser.feed(StreamEvent(data="[DONE]"))) == []
    assert list(parser.feed(StreamEvent(data="garbage"))) == []
    assert list(parser.close()) == []


def test_azure_prompt_filter_chunk_is_skipped() -> None:
    parser = P.stream_parser("m")
    first = {"id": "", "object": "", "created": 0, "model": "", "choices": [],
             "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}]}
    assert list(parser.feed(StreamEvent(data=json.dumps(first)))) == []


def test_malformed_event() -> None:
    parser = P.stream_parser("m")
    with pytest.raises(InvalidResponseError):
        list(parser.feed(StreamEvent(data="{nope")))
    with pytest.raises(InvalidResponseError):
        list(parser.feed(StreamEvent(data='{"choices": 3}')))
