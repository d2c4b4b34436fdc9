"""The AWS event-stream decoder on plain bytes: CRCs, lengths, headers, splits.

Spec: https://docs.aws.amazon.com/transcribe/latest/dg/event-stream.html
"""

from __future__ import annotations

import struct
import uuid
import zlib
from datetime import UTC, datetime

import pytest

from polyroute.errors import InvalidResponseError, StreamInterruptedError
from polyroute.framing import decoder_for
from polyroute.plugins import PluginRegistry
from polyroute_bedrock import AwsEventStreamFraming, EventStreamDecoder, encode_message
from polyroute_bedrock import plugin as bedrock_plugin
from polyroute_bedrock.standin import event_frame, exception_frame


def decode(raw: bytes, step: int | None = None) -> list:  # type: ignore[type-arg]
    decoder, out = EventStreamDecoder(), []
    step = step or len(raw) or 1
    for i in range(0, len(raw), step):
        out.extend(decoder.feed(raw[i:i + step]))
    out.extend(decoder.close())
    return out


def test_known_vector_without_headers() -> None:
    # A message with no headers and payload {"foo": "bar"}: 16 bytes of overhead + 14.
    raw = encode_message({}, b'{"foo": "bar"}')
    assert raw[:12] == bytes([0, 0, 0, 30, 0, 0, 0, 0, 186, 242, 246, 138])
    assert raw[-4:] == bytes([174, 114, 88, 228])
    [msg] = decode(raw)
    assert (dict(msg.headers), msg.payload) == ({}, b'{"foo": "bar"}')


def test_layout_matches_the_spec() -> None:
    raw = encode_message({":event-type": "messageStart"}, b"{}")
    total, headers_len, prelude_crc = struct.unpack(">III", raw[:12])
    assert total == len(raw) and prelude_crc == zlib.crc32(raw[:8])
    assert headers_len == 1 + len(":event-type") + 1 + 2 + len("messageStart")
    assert raw[12:13] == bytes([len(":event-type")]) and raw[24:25] == b"\x07"  # string type
    assert struct.unpack(">I", raw[-4:])[0] == zlib.crc32(raw[:-4])


def test_every_header_type() -> None:
    when = datetime(2025, 10, 1, 12, 0, 0, 123000, tzinfo=UTC)
    ident = uuid.UUID("12345678-1234-5678-1234-567812345678")
    headers = {"t": True, "f": False, "i": -7, "b": b"\x00\xff", "s": "héllo", "ts": when,
               "u": ident}
    raw = encode_message(headers, b"x")
    # add byte (2), short (3) and long (5) by hand: the encoder writes ints as type 4
    extra = (b"\x02by\x02\xfe" + b"\x02sh\x03" + struct.pack(">h", -300)
             + b"\x02lo\x05" + struct.pack(">q", 2**40))
    [msg] = decode(_with_headers(raw, extra))
    assert dict(msg.headers) == {**headers, "by": -2, "sh": -300, "lo": 2**40}


def _with_headers(raw: bytes, extra: bytes) -> bytes:
    _, hlen, _ = struct.unpack(">III", raw[:12])
    headers, payload = raw[12:12 + hlen] + extra, raw[12 + hlen:-4]
    total = 16 + len(headers) + len(payload)
    prelude = struct.pack(">II", total, len(headers))
    head = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + payload
    return head + struct.pack(">I", zlib.crc32(head))


@pytest.mark.parametrize("step", [1, 3, 11, 12, 13, 50, None])
def test_split_anywhere_and_many_per_feed(step: int | None) -> None:
    raw = b"".join(event_frame("contentBlockDelta", {"contentBlockIndex": 0,
                                                     "delta": {"text": f"w{i}"}})
                   for i in range(5))
    msgs = decode(raw, step)
    assert [m.payload for m in msgs] == [
        f'{{"contentBlockIndex": 0, "delta": {{"text": "w{i}"}}}}'.encode() for i in range(5)]
    assert all(m.message_type == "event" for m in msgs)


def test_prelude_crc_mismatch() -> None:
    raw = bytearray(event_frame("messageStart", {"role": "assistant"}))
    raw[9] ^= 0xFF
    with pytest.raises(StreamInterruptedError, match="prelude CRC mismatch"):
        decode(bytes(raw))


def test_message_crc_mismatch_in_payload() -> None:
    good = event_frame("messageStart", {"role": "assistant"})
    bad = bytearray(event_frame("messageStop", {"stopReason": "end_turn"}))
    bad[-6] ^= 0x01  # flip a payload bit: the prelude still checks out
    decoder = EventStreamDecoder()
    assert len(list(decoder.feed(good))) == 1
    with pytest.raises(StreamInterruptedError, match=f"message CRC mismatch at byte {len(good)}"):
        list(decoder.feed(bytes(bad)))
    assert issubclass(StreamInterruptedError, InvalidResponseError)


def test_truncated_stream_fails_on_close() -> None:
    raw = event_frame("messageStart", {"role": "assistant"})
    decoder = EventStreamDecoder()
    assert list(decoder.feed(raw[:-5])) == []
    with pytest.raises(StreamInterruptedError, match="inside a message"):
        list(decoder.close())


@pytest.mark.parametrize(("total", "hlen", "match"), [
    (10, 0, "message length 10"), (32 * 1024 * 1024, 0, "message length"),
    (40, 30, "headers length 30"),
])
def test_lengths_out_of_range(total: int, hlen: int, match: str) -> None:
    prelude = struct.pack(">II", total, hlen)
    with pytest.raises(StreamInterruptedError, match=match):
        decode(prelude + struct.pack(">I", zlib.crc32(prelude)) + b"\x00" * 4)


def test_bad_header_section() -> None:
    with pytest.raises(StreamInterruptedError, match="unknown header value type 42"):
        decode(_with_headers(encode_message({}, b""), b"\x01x\x2a"))
    with pytest.raises(StreamInterruptedError, match="truncated"):
        decode(_with_headers(encode_message({}, b""), b"\x05ab"))


def test_framing_adapter_events_exceptions_and_errors() -> None:
    error = encode_message({":message-type": "error", ":error-code": "InternalFailure",
                            ":error-message": "boom"}, b"")
    raw = (event_frame("messageStart", {"role": "assistant"})
           + exception_frame("throttlingException", "Too many requests") + error)
    framing = AwsEventStreamFraming()
    events = [*framing.feed(raw), *framing.close()]
    assert [(e.event, e.id) for e in events] == [
        ("messageStart", "event"), ("throttlingException", "exception"), ("error", "error")]
    assert events[0].data == '{"role": "assistant"}'
    assert '"Too many requests"' in events[1].data
    assert events[2].data == '{"errorCode": "InternalFailure", "errorMessage": "boom"}'


def test_framing_is_registered_through_the_hook() -> None:
    PluginRegistry.create(load_entrypoints=False, plugins=[bedrock_plugin])
    assert isinstance(decoder_for("aws-eventstream"), AwsEventStreamFraming)
