"""alt=sse byte streams → ChatChunks, through the real SSE decoder.

Event shape: https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent
(each ``data:`` is a whole GenerateContentResponse; the last has finishReason).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from polyroute.errors import (
    ContentPolicyError,
    OverloadedError,
    RateLimitError,
    StreamInterruptedError,
)
from polyroute.providers.base import StreamParser
from polyroute.types import ChatChunk
from polyroute_gemini import GeminiProvider

Run = Callable[[StreamParser, bytes], list[ChatChunk]]


def events(*payloads: Any) -> bytes:
    return b"".join(b"data: " + json.dumps(p).encode() + b"\r\n\r\n" for p in payloads)


def text_event(text: str, **extra: Any) -> dict[str, Any]:
    cand: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}
    if "finishReason" in extra:
        cand["finishReason"] = extra.pop("finishReason")
    return {"candidates": [cand], "modelVersion": "gemini-2.5-flash", "responseId": "r1",
            **extra}


def test_text_stream(provider: GeminiProvider, run_stream: Run) -> None:
    raw = events(
        text_event("The quick", usageMetadata={"promptTokenCount": 7, "totalTokenCount": 7}),
        text_event(" brown fox"),
        text_event(" jumps.", finishReason="STOP", usageMetadata={
            "promptTokenCount": 7, "candidatesTokenCount": 6, "thoughtsTokenCount": 3,
            "cachedContentTokenCount": 2, "totalTokenCount": 16}),
    )
    chunks = run_stream(provider.stream_parser("gemini-2.5-flash"), raw)
    assert "".join(c.text for c in chunks) == "The quick brown fox jumps."
    final = chunks[-1]
    assert final.finish_reason == "stop"
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens,
            final.usage.cache_read_tokens, final.usage.reasoning_tokens) == (7, 9, 2, 3)
    assert {c.response_id for c in chunks} == {"r1"}
    assert {c.response_model for c in chunks} == {"gemini-2.5-flash"}


def test_byte_at_a_time_split(provider: GeminiProvider) -> None:
    from polyroute.framing import SSEDecoder

    raw = events(text_event("Hi"), text_event("!", finishReason="STOP"))
    parser, decoder = provider.stream_parser("m"), SSEDecoder()
    chunks: list[ChatChunk] = []
    for i in range(len(raw)):
        for event in decoder.feed(raw[i:i + 1]):
            chunks.extend(parser.feed(event))
    chunks.extend(parser.close())
    assert "".join(c.text for c in chunks) == "Hi!"


def test_function_call_stream(provider: GeminiProvider, run_stream: Run) -> None:
    raw = events({"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
        {"functionCall": {"name": "get_time", "args": {}}}]}, "finishReason": "STOP"}],
        "responseId": "r2", "usageMetadata": {"promptTokenCount": 20,
                                              "candidatesTokenCount": 10}})
    chunks = run_stream(provider.stream_parser("m"), raw)
    deltas = [d for c in chunks for d in c.tool_calls]
    assert [(d.index, d.name, json.loads(d.arguments)) for d in deltas] == [
        (0, "get_weather", {"city": "Paris"}), (1, "get_time", {})]
    assert all(d.id and d.id.startswith("gemini-call-") for d in deltas)
    assert chunks[-1].finish_reason == "tool_calls"


def test_function_call_stream_keeps_thought_signature(
    provider: GeminiProvider, run_stream: Run
) -> None:
    raw = events({"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
         "thoughtSignature": "CiIBVKhc7xJu"}]}, "finishReason": "STOP"}], "responseId": "r3"})
    chunks = run_stream(provider.stream_parser("m"), raw)
    assert [d.signature for c in chunks for d in c.tool_calls] == ["gemini:CiIBVKhc7xJu"]


def test_thought_parts_stay_out_of_text(provider: GeminiProvider, run_stream: Run) -> None:
    parser = provider.stream_parser("m")
    raw = events({"candidates": [{"content": {"parts": [{"text": "hmm", "thought": True}]}}]},
                 text_event("ok", finishReason="STOP"))
    chunks = run_stream(parser, raw)
    assert "".join(c.text for c in chunks) == "ok"
    assert getattr(parser, "thoughts", None) == ["hmm"]


def test_stream_without_finish_reason_is_interrupted(provider: GeminiProvider,
                                                     run_stream: Run) -> None:
    with pytest.raises(StreamInterruptedError, match="finishReason"):
        run_stream(provider.stream_parser("m"), events(text_event("partial")))


def test_in_band_errors(provider: GeminiProvider, run_stream: Run) -> None:
    raw = events(text_event("a"), {"error": {"code": 503, "message": "The model is overloaded.",
                                             "status": "UNAVAILABLE"}})
    with pytest.raises(OverloadedError, match="overloaded"):
        run_stream(provider.stream_parser("m"), raw)
    raw = events({"error": {"code": 429, "message": "Resource has been exhausted"}})
    with pytest.raises(RateLimitError):
        run_stream(provider.stream_parser("m"), raw)
    with pytest.raises(StreamInterruptedError, match="not JSON"):
        run_stream(provider.stream_parser("m"), b"data: {oops\r\n\r\n")


def test_safety_mid_stream(provider: GeminiProvider, run_stream: Run) -> None:
    raw = events(text_event("Sure, here"),
                 {"candidates": [{"finishReason": "SAFETY", "index": 0}]})
    with pytest.raises(ContentPolicyError, match="SAFETY"):
        run_stream(provider.stream_parser("m"), raw)
    raw = events({"promptFeedback": {"blockReason": "OTHER"}})
    with pytest.raises(ContentPolicyError, match="prompt"):
        run_stream(provider.stream_parser("m"), raw)


def test_trailing_usage_only_chunk(provider: GeminiProvider, run_stream: Run) -> None:
    raw = events(text_event("x", finishReason="STOP"),
                 {"usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1}})
    chunks = run_stream(provider.stream_parser("m"), raw)
    assert chunks[-1].usage is not None and chunks[-1].usage.input_tokens == 3
