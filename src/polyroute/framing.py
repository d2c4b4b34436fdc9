"""Stream framings: cut a streamed HTTP body into ``StreamEvent``s.

Sans-IO decoders fed with bytes as they arrive. ``sse`` follows the WHATWG
Server-Sent Events parsing rules (``event``/``data``/``id`` fields, multi-line
data, comments, CR/LF/CRLF line ends); ``ndjson`` yields one event per
non-empty line. Plugins needing another framing register a decoder factory
with ``register_framing``.

Written here rather than taken from httpx-sse because the decoder must also
run on plain bytes in plugin tests and on NDJSON, and is forty lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Protocol, cast

from polyroute.plugins.framings import plugin_framing, plugin_framings, register_plugin_framing
from polyroute.providers.base import StreamEvent

__all__ = ["FramingDecoder", "NDJSONDecoder", "SSEDecoder", "decoder_for", "register_framing"]


class FramingDecoder(Protocol):
    def feed(self, data: bytes) -> Iterator[StreamEvent]: ...

    def close(self) -> Iterator[StreamEvent]: ...


class _LineSplitter:
    """Bytes in, complete lines out, in time linear in the input.

    A line arriving in many pieces is kept as a list of pieces and joined once
    when its end arrives (re-scanning a growing buffer on every piece was
    quadratic: a 1 MB line in 512-byte pieces took 0.4 s). Lines are decoded as
    UTF-8 with replacement, as the SSE spec says, so a provider's bad byte is a
    U+FFFD in the text, not a ``UnicodeDecodeError``.
    """

    __slots__ = ("_parts", "_pending_cr")

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._pending_cr = False

    def feed(self, data: bytes) -> list[str]:
        if not data:  # an empty read must not forget a CR waiting for its LF
            return []
        if self._pending_cr and data.startswith(b"\n"):
            data = data[1:]
        self._pending_cr = False
        if b"\n" not in data and b"\r" not in data:
            if data:  # (empty after dropping the LF of a CRLF)
                self._parts.append(data)  # no line end: never rescan what is buffered
            return []
        if data.endswith(b"\r"):
            self._pending_cr = True
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        first, *lines, rest = data.split(b"\n")
        if self._parts:
            self._parts.append(first)
            first = b"".join(self._parts)
        self._parts = [rest] if rest else []
        return [line.decode("utf-8", errors="replace") for line in (first, *lines)]

    def rest(self) -> str:
        rest, self._parts = b"".join(self._parts), []
        return _text(rest)


def _text(line: bytes) -> str:
    return line.decode("utf-8", errors="replace")


class SSEDecoder:
    """Server-Sent Events. An event is dispatched on a blank line."""

    __slots__ = ("_data", "_event", "_id", "_lines")

    def __init__(self) -> None:
        self._lines = _LineSplitter()
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None

    def feed(self, data: bytes) -> Iterator[StreamEvent]:
        for line in self._lines.feed(data):
            # "data:" lines and the blank line ending an event, most of a stream, are
            # handled here: a call per line cost ~0.2 µs
            if line.startswith("data:"):
                self._data.append(line[6:] if line.startswith(" ", 5) else line[5:])
            elif not line:
                if self._data or self._event is not None:
                    yield StreamEvent("\n".join(self._data), self._event, self._id)
                    self._data, self._event = [], None
            elif (event := self._line(line)) is not None:
                yield event

    def close(self) -> Iterator[StreamEvent]:
        rest = self._lines.rest()
        if rest:
            self._line(rest)
        # A final event without its blank line is dispatched, per the spec's intent
        # for truncated streams the provider parser decides whether it is complete.
        event = self._line("")
        if event is not None:
            yield event

    def _line(self, line: str) -> StreamEvent | None:
        if not line:
            if not self._data and self._event is None:
                return None
            event = StreamEvent(data="\n".join(self._data), event=self._event, id=self._id)
            self._data, self._event = [], None
            return event
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            self._id = value
        return None


class NDJSONDecoder:
    """Newline-delimited JSON: one event per non-empty line."""

    __slots__ = ("_lines",)

    def __init__(self) -> None:
        self._lines = _LineSplitter()

    def feed(self, data: bytes) -> Iterator[StreamEvent]:
        for line in self._lines.feed(data):
            if line.strip():
                yield StreamEvent(data=line)

    def close(self) -> Iterator[StreamEvent]:
        rest = self._lines.rest()
        if rest.strip():
            yield StreamEvent(data=rest)


_FRAMINGS: dict[str, Callable[[], FramingDecoder]] = {
    "sse": SSEDecoder,
    "ndjson": NDJSONDecoder,
}


def register_framing(name: str, factory: Callable[[], FramingDecoder]) -> None:
    """Make ``HttpRequest(framing=name)`` decode with ``factory()``."""
    register_plugin_framing(name, factory)


def decoder_for(name: str) -> FramingDecoder:
    # a plugin's framing wins over a built-in of the same name, as it always has
    factory = plugin_framing(name) or _FRAMINGS.get(name)
    if factory is None:
        known = sorted({*_FRAMINGS, *plugin_framings()})
        raise ValueError(f"unknown stream framing '{name}' (known: {known})")
    return cast("FramingDecoder", factory())
