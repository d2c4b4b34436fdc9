"""botocore's event-stream parser (``botocore.eventstream``) as the oracle for ours.

Two directions:

- what *our* encoder writes (``encode_message``, the stand-in's ``event_frame`` /
  ``exception_frame`` and a whole stand-in ConverseStream answer) decodes with
  botocore's ``EventStreamBuffer`` to the headers and payload we meant;
- what *our* decoder reads is built here independently of our encoder, straight
  from the AWS spec (https://docs.aws.amazon.com/transcribe/latest/dg/event-stream.html:
  prelude, headers with every value type 0-9, payload, two CRC32s), and each such
  frame is first checked against botocore, so the builder itself is not trusted.
  No bytes are copied from botocore's own test fixtures.
"""

from __future__ import annotations

import json
import random
import struct
import uuid
from binascii import crc32
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.eventstream import (
    ChecksumMismatch,
    EventStreamBuffer,
    InvalidHeadersLength,
    InvalidPayloadLength,
)

from polyroute.errors import StreamInterruptedError
from polyroute.testing.standin import StandinRequest
from polyroute_bedrock import EventStreamDecoder, encode_message
from polyroute_bedrock.standin import BedrockResponder, event_frame, exception_frame

# --- frames from the spec, not from our encoder ------------------------------

# (name, value type, encoded value) — the value bytes exactly as the spec lays them out
Header = tuple[str, int, bytes]


def spec_header(name: str, kind: int, value: bytes) -> bytes:
    raw = name.encode("utf-8")
    return bytes([len(raw)]) + raw + bytes([kind]) + value


def spec_frame(headers: list[Header], payload: bytes) -> bytes:
    """One message per the spec: lengths and CRC32s computed here, big-endian throughout."""
    block = b"".join(spec_header(*h) for h in headers)
    prelude = struct.pack(">II", 16 + len(block) + len(payload), len(block))
    head = prelude + struct.pack(">I", crc32(prelude)) + block + payload
    return head + struct.pack(">I", crc32(head))


def typed(kind: int, value: Any) -> bytes:
    """The spec's encoding of ``value`` as header value type ``kind``."""
    if kind in (0, 1):
        return b""
    if kind in (2, 3, 4, 5, 8):
        return int(value).to_bytes({2: 1, 3: 2, 4: 4, 5: 8, 8: 8}[kind], "big", signed=True)
    if kind in (6, 7):
        data = value if kind == 6 else value.encode("utf-8")
        return struct.pack(">H", len(data)) + data
    return bytes(value)  # 9: 16 raw UUID bytes


def botocore_decode(raw: bytes, step: int | None = None) -> list[tuple[dict[str, Any], bytes]]:
    buffer, out = EventStreamBuffer(), []
    step = step or len(raw) or 1
    for i in range(0, len(raw), step):
        buffer.add_data(raw[i:i + step])
        out.extend((dict(m.headers), m.payload) for m in buffer)
    return out


def ours_decode(raw: bytes, step: int | None = None) -> list[tuple[dict[str, Any], bytes]]:
    decoder, out = EventStreamDecoder(), []
    step = step or len(raw) or 1
    for i in range(0, len(raw), step):
        out.extend((dict(m.headers), m.payload) for m in decoder.feed(raw[i:i + step]))
    out.extend((dict(m.headers), m.payload) for m in decoder.close())
    return out


def as_botocore(headers: dict[str, Any]) -> dict[str, Any]:
    """Our decoded values in botocore's representation: timestamps as epoch
    milliseconds, UUIDs as their 16 bytes (everything else is the same type)."""
    out: dict[str, Any] = {}
    for name, value in headers.items():
        if isinstance(value, datetime):
            value = round(value.timestamp() * 1000)
        elif isinstance(value, uuid.UUID):
            value = value.bytes
        out[name] = value
    return out


def assert_same(raw: bytes, step: int | None = None) -> list[tuple[dict[str, Any], bytes]]:
    theirs = botocore_decode(raw, step)
    ours = ours_decode(raw, step)
    assert [(as_botocore(h), p) for h, p in ours] == theirs
    return theirs


WHEN = datetime(2025, 10, 1, 12, 0, 0, 123000, tzinfo=UTC)
IDENT = uuid.UUID("12345678-1234-5678-1234-567812345678")
EVERY_TYPE: list[Header] = [
    ("t", 0, typed(0, True)), ("f", 1, typed(1, False)),
    ("byte", 2, typed(2, -128)), ("short", 3, typed(3, -32768)),
    ("int", 4, typed(4, 2**31 - 1)), ("long", 5, typed(5, -(2**63))),
    ("bytes", 6, typed(6, b"\x00\xff")), ("empty-bytes", 6, typed(6, b"")),
    ("str", 7, typed(7, "héllo wörld ✓")), ("empty-str", 7, typed(7, "")),
    ("ts", 8, typed(8, 1759320000123)), ("uuid", 9, typed(9, IDENT.bytes)),
]


def test_spec_frames_with_every_header_type_decode_alike() -> None:
    raw = spec_frame(EVERY_TYPE, b'{"a": 1}')
    [(headers, payload)] = assert_same(raw)
    assert payload == b'{"a": 1}'
    assert headers == {"t": True, "f": False, "byte": -128, "short": -32768, "int": 2**31 - 1,
                       "long": -(2**63), "bytes": b"\x00\xff", "empty-bytes": b"",
                       "str": "héllo wörld ✓", "empty-str": "", "ts": 1759320000123,
                       "uuid": IDENT.bytes}
    [(ours, _)] = ours_decode(raw)
    assert ours["ts"] == datetime(2025, 10, 1, 12, 0, 0, 123000, tzinfo=UTC)
    assert ours["uuid"] == IDENT


@pytest.mark.parametrize(("headers", "payload"), [
    ([], b""),                                           # the smallest message: 16 bytes
    ([], b"x" * 70_000),                                 # payload longer than 64 KiB
    ([("n" * 255, 7, typed(7, "longest name"))], b"p"),  # a header name of 255 bytes
    ([("s", 7, typed(7, "v" * 65_535))], b""),           # the longest string value
    ([(":message-type", 7, typed(7, "event")), (":event-type", 7, typed(7, "messageStop")),
      (":content-type", 7, typed(7, "application/json"))], b'{"stopReason":"end_turn"}'),
])
def test_edge_sized_spec_frames_decode_alike(headers: list[Header], payload: bytes) -> None:
    [(_, got)] = assert_same(spec_frame(headers, payload))
    assert got == payload


def test_many_frames_split_at_every_offset_decode_alike() -> None:
    raw = b"".join(spec_frame([(":event-type", 7, typed(7, f"e{i}")), ("i", 4, typed(4, i))],
                              json.dumps({"i": i}).encode()) for i in range(4))
    whole = assert_same(raw)
    assert [h["i"] for h, _ in whole] == [0, 1, 2, 3]
    for step in range(1, 40):
        assert ours_decode(raw, step) == ours_decode(raw)
    assert_same(raw, step=7)


def test_random_spec_frames_decode_alike() -> None:
    rng = random.Random(20251001)  # fixed seed: the same 300 frames every run
    frames = []
    for _ in range(300):
        headers: list[Header] = []
        for n in range(rng.randrange(0, 6)):
            kind = rng.randrange(0, 10)
            value: Any = {
                0: True, 1: False, 2: rng.randrange(-128, 128),
                3: rng.randrange(-(2**15), 2**15), 4: rng.randrange(-(2**31), 2**31),
                5: rng.randrange(-(2**63), 2**63), 6: rng.randbytes(rng.randrange(0, 40)),
                7: "".join(chr(rng.randrange(32, 0x2FF)) for _ in range(rng.randrange(0, 20))),
                8: rng.randrange(0, 4_102_444_800_000), 9: rng.randbytes(16),
            }[kind]
            headers.append((f"h{n}", kind, typed(kind, value)))
        frames.append(spec_frame(headers, rng.randbytes(rng.randrange(0, 300))))
    decoded = assert_same(b"".join(frames), step=97)
    assert len(decoded) == 300


# --- our encoder, botocore's decoder -----------------------------------------

def test_our_encoder_is_read_by_botocore() -> None:
    headers = {"t": True, "f": False, "i": -7, "b": b"\x00\xff", "s": "héllo", "ts": WHEN,
               "u": IDENT}
    [(theirs, payload)] = botocore_decode(encode_message(headers, b"x"))
    assert payload == b"x"
    assert theirs == as_botocore(headers)


def test_standin_frames_are_read_by_botocore() -> None:
    raw = event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "hi"}})
    raw += exception_frame("throttlingException", "slow down")
    [(event, data), (exc, err)] = botocore_decode(raw)
    assert event == {":event-type": "contentBlockDelta", ":content-type": "application/json",
                     ":message-type": "event"}
    assert json.loads(data) == {"contentBlockIndex": 0, "delta": {"text": "hi"}}
    assert exc[":message-type"] == "exception"
    assert exc[":exception-type"] == "throttlingException"
    assert json.loads(err) == {"message": "slow down"}


def test_a_whole_standin_converse_stream_is_read_by_botocore() -> None:
    body = json.dumps({"messages": [{"role": "user", "content": [{"text": "a b c"}]}]}).encode()
    request = StandinRequest("POST", "/model/us.amazon.nova-lite-v1%3A0/converse-stream",
                             {"authorization": "Bearer standin"}, body)
    reply = BedrockResponder().answer(request)
    assert reply.status == 200 and reply.chunks
    messages = assert_same(b"".join(reply.chunks), step=5)
    kinds = [h[":event-type"] for h, _ in messages]
    assert kinds[0] == "messageStart" and "messageStop" in kinds and kinds[-1] == "metadata"


# --- both refuse what the spec forbids ---------------------------------------

def _flip(raw: bytes, at: int) -> bytes:
    return raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1:]


GOOD = spec_frame([(":event-type", 7, typed(7, "messageStart"))], b'{"role":"assistant"}')


@pytest.mark.parametrize(("raw", "botocore_error"), [
    pytest.param(_flip(GOOD, len(GOOD) - 6), ChecksumMismatch, id="payload-byte-flipped"),
    pytest.param(_flip(GOOD, 14), ChecksumMismatch, id="header-byte-flipped"),
    pytest.param(_flip(GOOD, len(GOOD) - 1), ChecksumMismatch, id="message-crc-flipped"),
    pytest.param(_flip(GOOD, 9), ChecksumMismatch, id="prelude-crc-flipped"),
    pytest.param(spec_frame([("h", 6, typed(6, b"x" * 60_000)), ("g", 6, typed(6, b"y" * 60_000)),
                             ("k", 6, typed(6, b"z" * 20_000))], b""),
                 InvalidHeadersLength, id="headers-over-128KiB"),
    pytest.param(struct.pack(">II", 25 * 1024 * 1024, 0)
                 + struct.pack(">I", crc32(struct.pack(">II", 25 * 1024 * 1024, 0))),
                 InvalidPayloadLength, id="message-over-the-limit"),
])
def test_corrupt_frames_are_refused_by_both(raw: bytes, botocore_error: type[Exception]) -> None:
    with pytest.raises(botocore_error):
        botocore_decode(raw)
    with pytest.raises(StreamInterruptedError, match="AWS event stream"):
        ours_decode(raw)


def _raw_headers_frame(block: bytes) -> bytes:
    prelude = struct.pack(">II", 16 + len(block), len(block))
    head = prelude + struct.pack(">I", crc32(prelude)) + block
    return head + struct.pack(">I", crc32(head))


@pytest.mark.parametrize("block", [
    pytest.param(b"\x01a\x0a", id="unknown-value-type-10"),  # botocore: a bare KeyError
    pytest.param(b"\x01a\x07" + struct.pack(">H", 50) + b"ab",  # botocore: silently cut short
                 id="string-longer-than-header-block"),
])
def test_malformed_header_blocks_are_a_typed_error(block: bytes) -> None:
    """Where botocore is not a usable oracle, ours still fails with the stream's typed error."""
    with pytest.raises(StreamInterruptedError, match="AWS event stream"):
        ours_decode(_raw_headers_frame(block))
