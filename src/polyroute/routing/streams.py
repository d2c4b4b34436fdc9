"""Stream bookkeeping: read and parse a provider stream, stamp chunks, gather the
answer, replay a stored answer."""

from __future__ import annotations

import itertools
import json
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

from polyroute.errors import StreamInterruptedError
from polyroute.providers.base import StreamEvent
from polyroute.routing.plan import Deployment
from polyroute.routing.steps import END, Each, Effect, NextEvent, Steps
from polyroute.trusted_models import trusted
from polyroute.types import (
    ChatChunk,
    ChatResponse,
    Message,
    Part,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    Usage,
)

if TYPE_CHECKING:
    from polyroute.providers.base import StreamParser

__all__ = ["Relay", "Source", "has_content", "replay"]


class Relay:
    """Stamps chunks with who answered and gathers the whole answer.

    Usage and the finish reason are taken off the provider's chunks and put on
    the final chunk only, so the last chunk alone carries the totals (LangChain
    adds up ``usage_metadata`` across chunks).
    """

    __slots__ = ("dep", "finish_reason", "response_id", "response_model", "text", "tools", "usage")

    def __init__(self, dep: Deployment) -> None:
        self.dep = dep
        self.text = ""
        self.tools: dict[int, list[str]] = {}  # index -> [id, name, arguments, signature]
        self.usage: Usage | None = None
        self.finish_reason: Any = None
        self.response_id: str | None = None
        self.response_model: str | None = None

    def take(self, chunk: ChatChunk) -> bool:
        """Absorb ``chunk``; ``True`` if it still has content worth passing on."""
        if chunk.usage is not None:
            self.usage = chunk.usage if self.usage is None else _max_usage(self.usage, chunk.usage)
            chunk.usage = None
        if chunk.finish_reason is not None:
            self.finish_reason = chunk.finish_reason
            chunk.finish_reason = None
        self.response_id = chunk.response_id or self.response_id
        self.response_model = chunk.response_model or self.response_model
        # the parser usually stamped them already: a pydantic setattr is ~0.5 µs each
        dep = self.dep
        if chunk.provider != dep.provider:
            chunk.provider = dep.provider
        if chunk.model != dep.model:
            chunk.model = dep.model
        if chunk.text:
            self.text += chunk.text
        for delta in chunk.tool_calls:
            slot = self.tools.setdefault(delta.index, ["", "", "", ""])
            slot[0] = delta.id or slot[0]
            slot[1] = delta.name or slot[1]
            slot[2] += delta.arguments
            slot[3] = delta.signature or slot[3]
        return bool(chunk.text or chunk.tool_calls)

    def response(self) -> ChatResponse:
        """The streamed answer as one ``ChatResponse`` (for guards: cache, ledger)."""
        parts: list[Part] = [TextPart(text=self.text)] if self.text else []
        for _, (call_id, name, args, signature) in sorted(self.tools.items()):
            try:
                arguments = json.loads(args) if args else {}
            except ValueError:
                arguments = {"_raw": args}
            parts.append(ToolCallPart(id=call_id, name=name, arguments=arguments,
                                      signature=signature or None))
        # from chunks a parser built (validated or checked): not validated again
        return trusted(
            ChatResponse,
            message=trusted(Message, role="assistant", content=parts),
            finish_reason=self.finish_reason or "stop", usage=self.usage or Usage(),
            provider=self.dep.provider, model=self.dep.model,
            response_id=self.response_id, response_model=self.response_model,
        )


def _max_usage(a: Usage, b: Usage) -> Usage:
    # Providers report usage cumulatively (Anthropic: input at start, output at end).
    return trusted(Usage, **{k: max(getattr(a, k), getattr(b, k)) for k in Usage.model_fields})


def has_content(chunk: ChatChunk) -> bool:
    return bool(chunk.text or chunk.tool_calls or chunk.finish_reason)


class Source:
    """A provider's stream as chunks: the driver reads its events (``NextEvent``: a
    read's list of them, or one event), the provider's parser turns them into chunks.
    Sans-IO, so one piece serves sync and async streams."""

    __slots__ = ("batch", "ended", "parser", "read")

    def __init__(self, parser: StreamParser, events: Any) -> None:
        self.parser = parser
        self.read = NextEvent(events)
        self.batch: Iterator[ChatChunk] = iter(())  # the last event's chunks not yet taken
        self.ended = False

    def _refill(self) -> Steps[None]:
        got = yield self.read
        if got is END:
            self.ended = True
            self.batch = iter(self.parser.close())
        elif isinstance(got, StreamEvent):  # a transport that yields single events
            self.batch = iter(self.parser.feed(got))
        else:  # one read's events; each is parsed only once the chunks before it are taken
            self.batch = itertools.chain.from_iterable(map(self.parser.feed, got))

    def until_content(self) -> Steps[None]:
        """Take chunks up to the first with content (fallback is allowed until then);
        they are handed out again first by ``relay``."""
        first: list[ChatChunk] = []
        while not first or not has_content(first[-1]):
            chunk = next(self.batch, None)
            if chunk is not None:
                first.append(chunk)
            elif self.ended:
                raise StreamInterruptedError("stream ended before any content")
            else:
                yield from self._refill()
        self.batch = itertools.chain(first, self.batch)

    def relay(self, relay: Relay) -> Generator[Effect | Each[ChatChunk], Any, None]:
        """Every chunk still to come that has content, stamped by ``relay``: a read's
        chunks as one ``Each``, taken as the caller reads them (a caller that stops
        mid-way leaves the rest untaken, and a parser failure reaches the steps here)."""
        while True:
            yield Each(filter(relay.take, self.batch))
            if self.ended:
                return
            yield from self._refill()


def replay(response: ChatResponse) -> Iterator[ChatChunk]:
    """A stored answer as a stream: its text, its tool calls, then the final chunk."""
    stamp = {"provider": response.provider, "model": response.model}
    if response.message.text:
        yield ChatChunk(text=response.message.text, **stamp)
    calls = response.message.tool_calls
    if calls:
        yield ChatChunk(tool_calls=[
            ToolCallDelta(index=i, id=c.id, name=c.name, arguments=json.dumps(c.arguments),
                          signature=c.signature)
            for i, c in enumerate(calls)
        ], **stamp)
    yield ChatChunk(
        finish_reason=response.finish_reason or "stop", usage=response.usage,
        response_id=response.response_id, response_model=response.response_model,
        attempts=response.attempts, latency_ms=response.latency_ms,
        cost_usd=response.cost_usd, cache_hit=response.cache_hit, call_id=response.call_id,
        experiment=response.experiment, variant=response.variant, **stamp,
    )
