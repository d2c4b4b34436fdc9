"""Response, error and NDJSON stream parsing from plain bytes (no server)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from polyroute.errors import (
    AuthenticationError,
    BadRequestError,
    ContextWindowError,
    InvalidResponseError,
    NotFoundError,
    OverloadedError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from polyroute.providers.base import HttpResponse, ProviderSettings
from polyroute.testing.streams import parse_stream
from polyroute.types import ChatChunk
from polyroute_ollama import OllamaProvider
from polyroute_ollama.parse import tool_call_id

PROV = OllamaProvider(ProviderSettings(name="local", type="ollama"))


def resp(data: Any, status: int = 200, **headers: str) -> HttpResponse:
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return HttpResponse(status, headers, raw)


def final(**kw: Any) -> dict[str, Any]:
    return {"model": "qwen3:8b", "created_at": "2025-07-07T20:22:19Z", "done": True,
            "done_reason": "stop", "prompt_eval_count": 12, "eval_count": 5,
            "total_duration": 100, "eval_duration": 40, **kw}


def test_text_with_thinking_and_metadata() -> None:
    out = PROV.parse_response(resp(final(message={
        "role": "assistant", "content": "42", "thinking": "Let me think."})), "qwen3")
    assert out.message.text == "42" and out.finish_reason == "stop"
    assert out.provider_metadata["thinking"] == "Let me think."
    assert out.provider_metadata["total_duration"] == 100
    assert out.response_model == "qwen3:8b" and out.response_id is None
    assert (out.usage.input_tokens, out.usage.output_tokens) == (12, 5)


@pytest.mark.parametrize(("reason", "expected"),
                         [("stop", "stop"), ("length", "length"), ("load", "other"),
                          ("unload", "other"), (None, "stop")])
def test_done_reasons(reason: str | None, expected: str) -> None:
    data = final(message={"role": "assistant", "content": "x"}, done_reason=reason)
    assert PROV.parse_response(resp(data), "m").finish_reason == expected


def test_tool_calls_get_stable_ids() -> None:
    calls = [{"function": {"name": "a", "arguments": {"x": 1}}},
             {"function": {"name": "a", "arguments": {"x": 1}}},
             {"id": "server_id", "function": {"name": "b", "arguments": "{\"y\": 2}"}}]
    data = final(message={"role": "assistant", "content": "", "tool_calls": calls})
    first = PROV.parse_response(resp(data), "m")
    again = PROV.parse_response(resp(data), "m")
    assert [c.id for c in first.message.tool_calls] == [c.id for c in again.message.tool_calls]
    a0, a1, b = first.message.tool_calls
    assert a0.id == tool_call_id(0, "a", {"x": 1}) and a0.id != a1.id  # position counts
    assert (b.id, b.arguments) == ("server_id", {"y": 2})  # a server id is kept
    assert first.finish_reason == "tool_calls"


@pytest.mark.parametrize("bad", [
    b"not json", b"[]", json.dumps({"done": True}).encode(),
    json.dumps(final(message={"content": 3})).encode(),
    json.dumps(final(message={"content": "", "tool_calls": [{"function": {}}]})).encode(),
    json.dumps(final(message={"content": "", "tool_calls": {"x": 1}})).encode(),
    json.dumps(final(message={"content": "", "tool_calls": [
        {"function": {"name": "a", "arguments": [1]}}]})).encode(),
])
def test_malformed_bodies(bad: bytes) -> None:
    with pytest.raises(InvalidResponseError):
        PROV.parse_response(resp(bad), "m")


def test_error_body_on_200_is_raised_classified() -> None:
    with pytest.raises(NotFoundError):
        PROV.parse_response(resp({"error": "model 'x' not found"}, 404), "x")


@pytest.mark.parametrize(
    ("status", "message", "cls"),
    [
        (404, "model \"llama3.3\" not found, try pulling it first", NotFoundError),
        (400, "invalid character '}' looking for beginning of value", BadRequestError),
        (400, "the input length exceeds the context length", ContextWindowError),
        (500, "prompt is too long for the context window", ContextWindowError),
        (401, "unauthorized", AuthenticationError),
        (429, "too many requests", RateLimitError),
        (429, "you (user) have reached your weekly usage limit, upgrade for higher limits",
         QuotaExceededError),
        (500, "the model failed to generate a response", ServerError),
        (502, "cloud model unreachable", ServerError),
        (503, "server busy, please try again.  maximum pending requests exceeded",
         OverloadedError),
    ],
)
def test_error_classification(status: int, message: str, cls: type[ProviderError]) -> None:
    err = PROV.parse_error(resp({"error": message}, status, **{"retry-after": "3"}), "m")
    assert type(err) is cls
    assert err.status == status and err.reason == message
    assert err.provider == "local" and err.model == "m"
    retried = (RateLimitError, QuotaExceededError, ServerError, OverloadedError)
    assert err.retry_after == (3.0 if cls in retried else None)


def test_non_json_error_body() -> None:
    err = PROV.parse_error(resp(b"404 page not found", 404), "m")
    assert type(err) is NotFoundError and "404 page not found" in err.reason
    empty = PROV.parse_error(resp(b"", 502), "m")
    assert type(empty) is ServerError and "empty body" in empty.reason


# --- streams -----------------------------------------------------------------

def line(content: str = "", **kw: Any) -> bytes:
    msg = {"role": "assistant", "content": content, **kw.pop("message", {})}
    return json.dumps({"model": "llama3.2", "message": msg, "done": False, **kw}).encode() + b"\n"


def done_line(**kw: Any) -> bytes:
    data = final(message={"role": "assistant", "content": ""}, model="llama3.2")
    return json.dumps({**data, **kw}).encode() + b"\n"


def run(raw: bytes, pieces: int = 1) -> tuple[list[ChatChunk], Any]:
    parser = PROV.stream_parser("llama3.2")
    return parse_stream(parser, raw, framing="ndjson", step=max(1, len(raw) // pieces)), parser


@pytest.mark.parametrize("pieces", [1, 7, 1000])
def test_stream_text_split_anywhere(pieces: int) -> None:
    raw = line("Hel") + line("lo") + line(" wörld", message={"thinking": "hmm"}) + done_line()
    chunks, parser = run(raw, pieces)
    assert "".join(c.text for c in chunks) == "Hello wörld"
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.output_tokens == 5
    assert parser.thinking == "hmm"
    assert parser.metadata["total_duration"] == 100
    assert all(c.response_model == "llama3.2" for c in chunks)


def test_stream_tool_calls_indexed_across_lines() -> None:
    raw = (line(message={"tool_calls": [{"function": {"name": "a", "arguments": {"q": 1}}}]})
           + line(message={"tool_calls": [{"function": {"name": "b", "arguments": {}}}]})
           + done_line())
    chunks, _ = run(raw)
    deltas = [d for c in chunks for d in c.tool_calls]
    assert [(d.index, d.name, json.loads(d.arguments)) for d in deltas] == [
        (0, "a", {"q": 1}), (1, "b", {})]
    assert deltas[1].id == tool_call_id(1, "b", {})
    assert chunks[-1].finish_reason == "tool_calls"


def test_stream_length_and_lines_after_done_ignored() -> None:
    chunks, _ = run(line("a") + done_line(done_reason="length") + line("ignored"))
    assert "".join(c.text for c in chunks) == "a"
    assert chunks[-1].finish_reason == "length"


def test_stream_without_done_is_interrupted() -> None:
    with pytest.raises(StreamInterruptedError, match="done: true"):
        run(line("a") + line("b"))
    with pytest.raises(StreamInterruptedError, match="before any line"):
        run(b"")


def test_stream_in_band_errors() -> None:
    with pytest.raises(StreamInterruptedError, match="running the model") as info:
        run(line("a") + b'{"error":"an error was encountered while running the model"}\n')
    assert info.value.status is None and info.value.provider == "local"
    with pytest.raises(ContextWindowError):
        run(b'{"error":"the input length exceeds the context length"}\n')


@pytest.mark.parametrize("bad", [b"{nope\n", b"[1]\n"])
def test_stream_garbage_line(bad: bytes) -> None:
    with pytest.raises(StreamInterruptedError):
        run(line("a") + bad)
