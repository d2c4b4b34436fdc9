"""Feed stream bytes or events through a provider's ``StreamParser``, for sans-IO tests.

    chunks = parse_stream(provider.stream_parser(model), raw_sse_bytes)
    chunks = parse_stream(parser, raw_ndjson, framing="ndjson", step=7)  # split as a network would

Both close the parser at the end, so a stream without its terminal event raises
the provider's ``StreamInterruptedError`` exactly as it does under the router.
"""

from __future__ import annotations

from collections.abc import Iterable

from polyroute.framing import FramingDecoder, decoder_for
from polyroute.providers.base import StreamEvent, StreamParser
from polyroute.types import ChatChunk

__all__ = ["parse_events", "parse_stream"]


def parse_events(parser: StreamParser, events: Iterable[StreamEvent]) -> list[ChatChunk]:
    """Every chunk ``parser`` makes of ``events``, then of its ``close()``."""
    chunks: list[ChatChunk] = []
    for event in events:
        chunks.extend(parser.feed(event))
    chunks.extend(parser.close())
    return chunks


def parse_stream(
    parser: StreamParser, raw: bytes, *, framing: str | FramingDecoder = "sse",
    step: int | None = None,
) -> list[ChatChunk]:
    """``raw`` body bytes framed by ``framing`` (a registered name such as ``"sse"`` or
    ``"ndjson"``, or a decoder instance) and parsed by ``parser``.

    ``step``: feed the bytes in pieces of that many (default: all at once), to prove
    the decoder and parser cope with events split anywhere.
    """
    if step is not None and step < 1:
        raise ValueError(f"step must be a positive number of bytes, got {step}")
    decoder = decoder_for(framing) if isinstance(framing, str) else framing
    size = step or max(len(raw), 1)
    chunks: list[ChatChunk] = []
    # Interleaved as the transport does: an event is parsed before the next bytes
    # are framed, so a parser error surfaces before a later framing error.
    for i in range(0, len(raw), size):
        for event in decoder.feed(raw[i:i + size]):
            chunks.extend(parser.feed(event))
    for event in decoder.close():
        chunks.extend(parser.feed(event))
    chunks.extend(parser.close())
    return chunks
