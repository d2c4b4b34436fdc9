"""The AWS event-stream binary framing (``application/vnd.amazon.eventstream``), sans-IO.

Spec: https://docs.aws.amazon.com/transcribe/latest/dg/event-stream.html (and the
same text at https://docs.aws.amazon.com/lexv2/latest/dg/event-stream-encoding.html).
Every message, big-endian::

    total length      uint32   the whole message, these 4 bytes included
    headers length    uint32
    prelude CRC       uint32   CRC32 of the 8 bytes above
    headers           [headers length] bytes
    payload           total - headers length - 16 bytes
    message CRC       uint32   CRC32 of every byte before it

A header is ``name length (uint8), name (UTF-8), value type (uint8), value``;
value types: 0 true, 1 false, 2 byte, 3 short, 4 int, 5 long (signed,
big-endian), 6 bytes and 7 string (uint16 length + data), 8 timestamp
(int64 milliseconds since the epoch), 9 UUID (16 bytes). CRC32 is the
GZIP/zlib one.

Bedrock's ConverseStream sends one message per event with headers
``:message-type`` (``event``, ``exception`` or ``error``), ``:event-type``
(``messageStart``...) or ``:exception-type`` (``throttlingException``...),
and ``:content-type`` (``application/json``); the payload is the event's JSON.

``EventStreamDecoder`` takes bytes as they arrive (a message may be split
anywhere, several may come in one read) and yields ``EventStreamMessage``s,
checking both CRCs and every length. ``AwsEventStreamFraming`` adapts it to
polyroute's framing contract (``StreamEvent``): ``event`` is the
``:event-type`` — or, for an exception, the ``:exception-type`` (every
exception name ends in ``Exception``, no event name does) —, ``data`` the
payload text and ``id`` the ``:message-type``. An ``:message-type: error``
message becomes ``event="error"`` with ``{"errorCode", "errorMessage"}`` JSON
from its headers.
"""

from __future__ import annotations

import json
import struct
import uuid
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from polyroute.errors import StreamInterruptedError
from polyroute.providers.base import StreamEvent

__all__ = [
    "FRAMING",
    "MAX_HEADERS_LENGTH",
    "MAX_MESSAGE_LENGTH",
    "AwsEventStreamFraming",
    "EventStreamDecoder",
    "EventStreamMessage",
    "HeaderValue",
    "encode_message",
]

FRAMING = "aws-eventstream"
"""The framing name this plugin registers (``HttpRequest(framing=FRAMING)``)."""

MAX_MESSAGE_LENGTH = 16 * 1024 * 1024
"""Largest message accepted (the protocol's limit is 16 MiB)."""
MAX_HEADERS_LENGTH = 128 * 1024
"""Largest header section accepted (the protocol's limit is 128 KiB)."""

_PRELUDE = 12
_OVERHEAD = 16

HeaderValue = bool | int | bytes | str | datetime | uuid.UUID


@dataclass(frozen=True, slots=True)
class EventStreamMessage:
    """One decoded message: its headers and raw payload."""

    headers: Mapping[str, HeaderValue] = field(default_factory=dict)
    payload: bytes = b""

    def header(self, name: str) -> str | None:
        value = self.headers.get(name)
        return value if isinstance(value, str) else None

    @property
    def message_type(self) -> str:
        return self.header(":message-type") or "event"


class EventStreamDecoder:
    """Incremental decoder: ``feed`` bytes, get whole, CRC-checked messages."""

    __slots__ = ("_buf", "_offset")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._offset = 0  # bytes of the stream consumed so far (for error messages)

    def feed(self, data: bytes) -> Iterator[EventStreamMessage]:
        self._buf += data
        while len(self._buf) >= _PRELUDE:
            total, headers_len, prelude_crc = struct.unpack_from(">III", self._buf, 0)
            if zlib.crc32(self._buf[:8]) != prelude_crc:
                raise self._corrupt("prelude CRC mismatch")
            if total < _OVERHEAD or total > MAX_MESSAGE_LENGTH:
                raise self._corrupt(f"message length {total} out of range")
            if headers_len > MAX_HEADERS_LENGTH or headers_len > total - _OVERHEAD:
                raise self._corrupt(f"headers length {headers_len} out of range")
            if len(self._buf) < total:
                return
            frame = bytes(self._buf[:total])
            (message_crc,) = struct.unpack_from(">I", frame, total - 4)
            if zlib.crc32(frame[: total - 4]) != message_crc:
                raise self._corrupt("message CRC mismatch")
            headers = _decode_headers(frame[_PRELUDE:_PRELUDE + headers_len], self._offset)
            payload = frame[_PRELUDE + headers_len: total - 4]
            del self._buf[:total]
            self._offset += total
            yield EventStreamMessage(headers, payload)

    def close(self) -> Iterator[EventStreamMessage]:
        if self._buf:
            raise self._corrupt(f"stream ended inside a message ({len(self._buf)} bytes left)")
        return iter(())

    def _corrupt(self, why: str) -> StreamInterruptedError:
        return StreamInterruptedError(f"AWS event stream: {why} at byte {self._offset}")


def _decode_headers(raw: bytes, offset: int) -> dict[str, HeaderValue]:
    headers: dict[str, HeaderValue] = {}
    pos = 0

    def take(n: int) -> bytes:
        nonlocal pos
        if pos + n > len(raw):
            raise StreamInterruptedError(
                f"AWS event stream: header section truncated in message at byte {offset}")
        chunk = raw[pos:pos + n]
        pos += n
        return chunk

    while pos < len(raw):
        (name_len,) = take(1)
        name = take(name_len).decode("utf-8", errors="replace")
        (kind,) = take(1)
        value: HeaderValue
        if kind == 0:
            value = True
        elif kind == 1:
            value = False
        elif kind in (2, 3, 4, 5):
            size = {2: 1, 3: 2, 4: 4, 5: 8}[kind]
            value = int.from_bytes(take(size), "big", signed=True)
        elif kind in (6, 7):
            (length,) = struct.unpack(">H", take(2))
            data = take(length)
            value = data if kind == 6 else data.decode("utf-8", errors="replace")
        elif kind == 8:
            millis = int.from_bytes(take(8), "big", signed=True)
            try:
                value = datetime.fromtimestamp(millis / 1000, tz=UTC)
            except (OverflowError, ValueError, OSError):  # beyond year 9999 / the platform
                raise StreamInterruptedError(
                    f"AWS event stream: timestamp header {name!r} out of range "
                    f"in message at byte {offset}") from None
        elif kind == 9:
            value = uuid.UUID(bytes=take(16))
        else:
            raise StreamInterruptedError(
                f"AWS event stream: unknown header value type {kind} for {name!r} "
                f"in message at byte {offset}")
        headers[name] = value
    return headers


def _encode_header(name: str, value: HeaderValue) -> bytes:
    raw_name = name.encode()
    head = struct.pack(">B", len(raw_name)) + raw_name
    if isinstance(value, bool):
        return head + (b"\x00" if value else b"\x01")
    if isinstance(value, int):
        return head + b"\x04" + value.to_bytes(4, "big", signed=True)
    if isinstance(value, bytes):
        return head + b"\x06" + struct.pack(">H", len(value)) + value
    if isinstance(value, str):
        data = value.encode()
        return head + b"\x07" + struct.pack(">H", len(data)) + data
    if isinstance(value, datetime):
        return head + b"\x08" + int(value.timestamp() * 1000).to_bytes(8, "big", signed=True)
    return head + b"\x09" + value.bytes


def encode_message(headers: Mapping[str, HeaderValue], payload: bytes) -> bytes:
    """One encoded message (used by the stand-in and the tests)."""
    raw_headers = b"".join(_encode_header(k, v) for k, v in headers.items())
    total = _OVERHEAD + len(raw_headers) + len(payload)
    prelude = struct.pack(">II", total, len(raw_headers))
    head = prelude + struct.pack(">I", zlib.crc32(prelude)) + raw_headers + payload
    return head + struct.pack(">I", zlib.crc32(head))


class AwsEventStreamFraming:
    """``polyroute.framing.FramingDecoder`` for AWS event streams: bytes → ``StreamEvent``."""

    __slots__ = ("_decoder",)

    def __init__(self) -> None:
        self._decoder = EventStreamDecoder()

    def feed(self, data: bytes) -> Iterator[StreamEvent]:
        for message in self._decoder.feed(data):
            yield to_stream_event(message)

    def close(self) -> Iterator[StreamEvent]:
        for message in self._decoder.close():
            yield to_stream_event(message)


def to_stream_event(message: EventStreamMessage) -> StreamEvent:
    """A decoded message as a ``StreamEvent`` (see the module docstring)."""
    kind = message.message_type
    if kind == "error":
        data = json.dumps({"errorCode": message.header(":error-code") or "",
                           "errorMessage": message.header(":error-message") or ""})
        return StreamEvent(data=data, event="error", id=kind)
    name = message.header(":exception-type" if kind == "exception" else ":event-type")
    text = message.payload.decode("utf-8", errors="replace")
    return StreamEvent(data=text, event=name, id=kind)
