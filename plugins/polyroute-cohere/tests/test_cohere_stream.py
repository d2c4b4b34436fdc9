"""Cohere v2 SSE byte streams → ChatChunks, for every v2 event type.

Event shapes from https://docs.cohere.com/docs/streaming and
https://docs.cohere.com/docs/tool-use-streaming.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from polyroute.errors import ServerError, StreamInterruptedError
from polyroute.framing import SSEDecoder
from polyroute.providers.base import ProviderSettings
from polyroute.testing.streams import parse_stream
from polyroute.types import ChatChunk
from polyroute_cohere import CohereProvider

P = CohereProvider(ProviderSettings(name="cohere", type="cohere", api_key="k"))
START = {"type": "message-start", "id": "29f14a5a-11de-4cae-9800-25e4747408ea",
         "delta": {"message": {"role": "assistant", "content": [], "tool_plan": "",
                               "tool_calls": [], "citations": []}}}
END = {"type": "message-end", "delta": {"finish_reason": "COMPLETE", "usage": {
    "billed_units": {"input_tokens": 9, "output_tokens": 6},
    "tokens": {"input_tokens": 75, "output_tokens": 6}}}}


def raw(*events: dict[str, Any]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


def run(data: bytes) -> list[ChatChunk]:
    return parse_stream(P.stream_parser("command-a-03-2025"), data)


def delta(text: str) -> dict[str, Any]:
    return {"type": "content-delta", "index": 0,
            "delta": {"message": {"content": {"text": text}}}}


def test_text_stream() -> None:
    chunks = run(raw(START, {"type": "content-start", "index": 0, "delta": {"message": {
        "content": {"type": "text", "text": ""}}}}, delta("A large"), delta(" language model"),
        {"type": "content-end", "index": 0}, END))
    assert "".join(c.text for c in chunks) == "A large language model"
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.output_tokens == 6
    assert {c.response_id for c in chunks} == {START["id"]}


def test_tool_stream() -> None:
    def call_delta(i: int, args: str) -> dict[str, Any]:
        return {"type": "tool-call-delta", "index": i, "delta": {"message": {"tool_calls": {
            "function": {"arguments": args}}}}}

    def call_start(i: int, cid: str) -> dict[str, Any]:
        return {"type": "tool-call-start", "index": i, "delta": {"message": {"tool_calls": {
            "id": cid, "type": "function", "function": {"name": "get_weather",
                                                       "arguments": ""}}}}}

    end = {"type": "message-end", "delta": {**END["delta"], "finish_reason": "TOOL_CALL"}}
    parser = P.stream_parser("m")
    decoder = SSEDecoder()
    events = raw(START, {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": "I"}}},
                 {"type": "tool-plan-delta", "delta": {"message": {"tool_plan": " will"}}},
                 call_start(0, "get_weather_nsz5zm3w56q3"), call_delta(0, '{"location":'),
                 call_delta(0, ' "Madrid"}'), {"type": "tool-call-end", "index": 0},
                 call_start(1, "get_weather_rdj5s9rbgs3d"),
                 call_delta(1, '{"location": "Brasilia"}'),
                 {"type": "tool-call-end", "index": 1}, end)
    chunks = [c for e in decoder.feed(events) for c in parser.feed(e)]
    chunks.extend(parser.close())
    calls: dict[int, list[str]] = {}
    for c in chunks:
        for d in c.tool_calls:
            slot = calls.setdefault(d.index, ["", "", ""])
            slot[0], slot[1] = d.id or slot[0], d.name or slot[1]
            slot[2] += d.arguments
    assert {i: (s[0], s[1], json.loads(s[2])) for i, s in calls.items()} == {
        0: ("get_weather_nsz5zm3w56q3", "get_weather", {"location": "Madrid"}),
        1: ("get_weather_rdj5s9rbgs3d", "get_weather", {"location": "Brasilia"})}
    assert chunks[-1].finish_reason == "tool_calls"
    assert getattr(parser, "tool_plan", None) == "I will"


def test_citations_debug_and_unknown_events_are_ignored() -> None:
    chunks = run(raw(START, delta("x"), {"type": "citation-start", "index": 0, "delta": {
        "message": {"citations": {"start": 0, "end": 1, "text": "x"}}}},
        {"type": "citation-end", "index": 0}, {"type": "debug", "prompt": "..."}, END))
    assert "".join(c.text for c in chunks) == "x"


def test_in_band_error_and_truncation() -> None:
    with pytest.raises(ServerError, match="internal error"):
        run(raw(START, delta("x"), {"type": "message-end", "delta": {
            "error": "internal error", "finish_reason": "ERROR"}}))
    with pytest.raises(StreamInterruptedError, match="message-end"):
        run(raw(START, delta("x")))
    with pytest.raises(StreamInterruptedError, match="before message-start"):
        run(b"")
    with pytest.raises(StreamInterruptedError, match="index"):
        run(raw(START, {"type": "tool-call-start", "delta": {"message": {"tool_calls": {}}}}))
