"""Hostile bodies: every Bedrock parser raises only polyroute's typed errors, and a
nonsensical usage count is an ``InvalidResponseError`` naming provider and model
(property-based; ``HYPOTHESIS_PROFILE=fuzz`` runs 10,000 cases, docs/testing.md)."""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from polyroute.providers.base import ProviderSettings, StreamEvent
from polyroute.testing import fuzz
from polyroute.testing.hostile import HostileParsers
from polyroute_bedrock import BedrockProvider
from polyroute_bedrock.eventstream import AwsEventStreamFraming, encode_message


def decode(data: bytes) -> list[StreamEvent]:
    framing = AwsEventStreamFraming()
    return [*framing.feed(data), *framing.close()]


CASSETTES = Path(__file__).parents[3] / "cassettes" / "bedrock_wire"
SAMPLES = fuzz.cassette_samples(CASSETTES, decode_stream=decode).add(
    # a model list: cassettes hold none
    {"modelSummaries": [{"modelId": "anthropic.claude-3-5-haiku-20241022-v1:0",
                         "outputModalities": ["TEXT"]}]},
)
PROVIDER = BedrockProvider(ProviderSettings(name="aws", type="bedrock",
                                            extra={"region": "us-east-1", "auth": "bearer"}))
MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"


class TestHostile(HostileParsers):
    provider = PROVIDER
    model = MODEL
    samples = SAMPLES
    usage_field = "outputTokens"


# --- the binary event-stream decoder ---------------------------------------------------

def frame(raw_headers: bytes, payload: bytes) -> bytes:
    """A message with valid CRCs around arbitrary header bytes: gets past the checksums."""
    total = 16 + len(raw_headers) + len(payload)
    prelude = struct.pack(">II", total, len(raw_headers))
    head = prelude + struct.pack(">I", zlib.crc32(prelude)) + raw_headers + payload
    return head + struct.pack(">I", zlib.crc32(head))


VALID = [encode_message({":message-type": "event", ":event-type": "contentBlockDelta",
                         ":content-type": "application/json"},
                        b'{"contentBlockIndex":0,"delta":{"text":"hi"}}')]
HEADER_BYTES = st.one_of(
    st.binary(max_size=40),
    # a well-formed name, then any value type byte and any value bytes
    st.tuples(st.binary(max_size=12), st.integers(0, 12), st.binary(max_size=24)).map(
        lambda t: bytes([len(t[0])]) + t[0] + bytes([t[1]]) + t[2]),
)
STREAMS = st.lists(
    st.one_of(
        st.sampled_from(VALID),
        st.tuples(HEADER_BYTES, st.binary(max_size=40)).map(lambda t: frame(*t)),
        st.binary(max_size=40),  # CRC garbage
    ),
    min_size=1, max_size=4,
).map(b"".join)


@fuzz.per_family()  # 2,500 streams of 1-4 messages, each cut at up to 6 points
@given(data=STREAMS, cuts=st.lists(st.integers(0, 400), max_size=6))
def test_event_stream_decoder_raises_only_typed_errors(data: bytes, cuts: list[int]) -> None:
    def run() -> None:
        framing = AwsEventStreamFraming()
        parser = PROVIDER.stream_parser(MODEL)
        at = 0
        for cut in [*sorted(c % (len(data) + 1) for c in cuts), len(data)]:
            for event in framing.feed(data[at:cut]):
                list(parser.feed(event))
            at = max(at, cut)
        for event in framing.close():
            list(parser.feed(event))
        list(parser.close())

    fuzz.typed_only(run)


def _decode_time(size: int, piece: int = 512) -> float:
    body = frame(b"", b"x" * size) * 2
    best = float("inf")
    # CPU time of this process, the best of five: other processes' load does not count
    for _ in range(5):
        decoder = AwsEventStreamFraming()
        t0 = time.process_time()
        for i in range(0, len(body), piece):
            list(decoder.feed(body[i:i + piece]))
        best = min(best, time.process_time() - t0)
    return best


def test_a_large_message_in_small_pieces_decodes_in_linear_time() -> None:
    small, large = _decode_time(2 << 20), _decode_time(8 << 20)  # 4x the bytes
    assert large < 10 * max(small, 5e-3), (small, large)
