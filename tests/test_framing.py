"""SSE/NDJSON framing on hostile bytes: no untyped error, same events however the
body is cut into pieces, and time linear in the body's size."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyroute.framing import NDJSONDecoder, SSEDecoder, decoder_for
from polyroute.providers.base import StreamEvent
from polyroute.testing import fuzz

SSE_BITS = st.sampled_from([
    b"data: ", b"data:", b"event: x", b"id: 1", b": comment", b"\n", b"\r\n", b"\r", b"\n\n",
    b"{\"a\":1}", b"[DONE]", b"\xff", b"\xc3", b"\xe2\x82", b"\xac", b"\x00", b"retry: 5",
])
BODIES = st.one_of(
    st.binary(max_size=300),
    st.lists(SSE_BITS, max_size=24).map(b"".join),
)


def run(name: str, body: bytes, cuts: list[int]) -> list[StreamEvent]:
    decoder = decoder_for(name)
    out: list[StreamEvent] = []
    at = 0
    for cut in sorted(c % (len(body) + 1) for c in cuts):
        out.extend(decoder.feed(body[at:cut]))
        at = max(at, cut)
    out.extend(decoder.feed(body[at:]))
    out.extend(decoder.close())
    return out


@pytest.mark.parametrize("name", ["sse", "ndjson"])
@fuzz.per_family(5_000)  # x2 framings: 10,000 bodies, each fed whole, cut, and byte by byte
@given(body=BODIES, cuts=st.lists(st.integers(0, 10_000), max_size=6))
def test_any_bytes_cut_anywhere_give_the_same_events(
    name: str, body: bytes, cuts: list[int]
) -> None:
    whole = run(name, body, [])
    assert run(name, body, cuts) == whole
    # One byte at a time: the worst case for a line buffer (and CR/LF split in two).
    assert run(name, body, list(range(len(body)))) == whole


def test_bad_utf8_becomes_replacement_characters_not_an_error() -> None:
    sse = SSEDecoder()
    events = [*sse.feed(b"data: caf\xc3"), *sse.feed(b"\xa9 \xff\n\n"), *sse.close()]
    assert events == [StreamEvent(data="café \ufffd")]
    nd = NDJSONDecoder()
    assert [e.data for e in [*nd.feed(b'{"a":"\xff"}\n{"b"'), *nd.feed(b":1}"), *nd.close()]] == [
        '{"a":"\ufffd"}', '{"b":1}',
    ]


def _feed_time(name: str, size: int, piece: int = 512) -> float:
    body = b"data: " + b"x" * size + b"\n\n"
    best = float("inf")
    # CPU time of this process, the best of five: other processes' load does not count
    for _ in range(5):
        decoder = decoder_for(name)
        t0 = time.process_time()
        for i in range(0, len(body), piece):
            for _event in decoder.feed(body[i:i + piece]):
                pass
        best = min(best, time.process_time() - t0)
    return best


@pytest.mark.parametrize("name", ["sse", "ndjson"])
def test_a_long_line_in_small_pieces_takes_linear_time(name: str) -> None:
    # 4x the bytes: linear is ~4x the time, the old quadratic buffer ~16x (0.42 s for
    # 1 MB in 512-byte pieces). 10x leaves room for a noisy machine.
    small, large = _feed_time(name, 2 << 20), _feed_time(name, 8 << 20)
    assert large < 10 * max(small, 5e-3), (small, large)


def test_an_empty_read_between_cr_and_lf_is_not_a_blank_line() -> None:
    # Found by the property above: the CR of a CRLF, an empty read, then the LF.
    sse = SSEDecoder()
    events = [*sse.feed(b"data: a\r"), *sse.feed(b""), *sse.feed(b"\ndata: b\n\n"), *sse.close()]
    assert events == [StreamEvent(data="a\nb")]
