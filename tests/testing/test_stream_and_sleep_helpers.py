"""``polyroute.testing.streams`` and ``polyroute.testing.sleeps`` as a plugin author uses them."""

from __future__ import annotations

import asyncio
import json

import pytest

from polyroute.errors import StreamInterruptedError
from polyroute.providers.base import StreamEvent, StreamParser
from polyroute.testing.sleeps import SleepRecorder
from polyroute.testing.streams import parse_stream
from polyroute.types import ChatChunk

SSE = b'data: {"t": "he"}\n\ndata: {"t": "llo"}\n\ndata: {"done": true}\n\n'


class Texts(StreamParser):
    """A tiny parser: text events, then a ``done`` event it insists on."""

    def __init__(self) -> None:
        self.done = False

    def feed(self, event: StreamEvent) -> list[ChatChunk]:
        data = json.loads(event.data)
        if data.get("done"):
            self.done = True
            return [ChatChunk(finish_reason="stop")]
        return [ChatChunk(text=data["t"])]

    def close(self) -> list[ChatChunk]:
        if not self.done:
            raise StreamInterruptedError("no done event", provider="p", model="m")
        return []


@pytest.mark.parametrize("step", [None, 1, 2, 7, 10_000])
def test_split_anywhere_gives_the_same_chunks(step: int | None) -> None:
    chunks = parse_stream(Texts(), SSE, step=step)
    assert "".join(c.text for c in chunks) == "hello" and chunks[-1].finish_reason == "stop"


def test_parser_close_runs_so_a_truncated_stream_fails() -> None:
    with pytest.raises(StreamInterruptedError, match="no done event"):
        parse_stream(Texts(), SSE[: SSE.index(b'data: {"done"')])


def test_ndjson_by_name_and_empty_body() -> None:
    raw = b'{"t": "a"}\n{"done": true}'  # last line without its newline
    assert [c.text for c in parse_stream(Texts(), raw, framing="ndjson")] == ["a", ""]
    with pytest.raises(StreamInterruptedError):
        parse_stream(Texts(), b"")


@pytest.mark.parametrize("step", [0, -3])
def test_nonsense_step_is_refused(step: int) -> None:
    with pytest.raises(ValueError, match="step must be a positive number of bytes"):
        parse_stream(Texts(), SSE, step=step)


def test_unknown_framing_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown stream framing 'morse'"):
        parse_stream(Texts(), SSE, framing="morse")


def test_sleep_recorder_records_sync_and_async_waits() -> None:
    sleeps = SleepRecorder()
    sleeps(0.25)
    asyncio.run(sleeps.asleep(1.5))
    assert sleeps.waits == [0.25, 1.5]
