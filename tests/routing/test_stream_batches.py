"""Stream events go up in batches, one per network read: the transport hands up a
list of the events each read completed, and the router turns a batch into the same
chunks, in the same order, as events handed up one by one (what a third party's
transport may still do). Speed is measured in bench/, never here."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
from aiohttp import web

from polyroute.errors import StreamInterruptedError
from polyroute.framing import register_framing
from polyroute.plugins import PluginRegistry
from polyroute.providers import HttpRequest, StreamEvent
from polyroute.router import Router
from polyroute.routing.steps import Each, aiterate, iterate
from polyroute.transport import Timeouts, Transport
from polyroute.types import ChatRequest, Message, RoutingHints

TIMEOUTS = Timeouts(connect=2, read=2, total=10)
WORDS = ["one ", "two ", "three ", "four "]


def _line(data: dict[str, Any]) -> StreamEvent:
    return StreamEvent(data=json.dumps(data))


# the echo protocol's stream (tests/support/echo_provider.py): a word per event, then done
EVENTS = [*(_line({"text": w}) for w in WORDS), _line({"done": True, "in": 3, "out": 4})]
BODY = b"".join(e.data.encode() + b"\n" for e in EVENTS)


def _request(framing: str = "ndjson") -> HttpRequest:
    return HttpRequest("POST", "http://stream.test/echo", json={}, framing=framing)


def _mock(reads: list[bytes]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=iter(reads))

    return httpx.MockTransport(handler)


def _amock(reads: list[bytes]) -> httpx.MockTransport:
    async def body() -> AsyncIterator[bytes]:
        for data in reads:
            yield data

    async def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body())

    return httpx.MockTransport(handler)


# --- the transport: one list per read ---------------------------------------------


def test_a_read_with_several_events_is_handed_up_as_one_batch() -> None:
    # two reads: four events whole, then the last one cut across the two reads' edge
    reads = [BODY[:-10], BODY[-10:]]
    t = Transport(client=httpx.Client(transport=_mock(reads)))
    try:
        with t.stream(_request(), TIMEOUTS, provider="p", model="m") as (error, events):
            assert error is None
            batches = list(events)
    finally:
        t.close()
    assert batches == [EVENTS[:4], EVENTS[4:]]


def test_async_reads_are_batched_the_same_way() -> None:
    reads = [BODY[:-10], b"", BODY[-10:]]  # an empty read hands up nothing

    async def run() -> list[Any]:
        t = Transport(async_client=httpx.AsyncClient(transport=_amock(reads)))
        try:
            async with t.astream(_request(), TIMEOUTS, provider="p", model="m") as (err, events):
                assert err is None
                return [batch async for batch in events]
        finally:
            await t.aclose()

    assert asyncio.run(run()) == [EVENTS[:4], EVENTS[4:]]


def test_the_default_async_transport_hands_up_every_event_in_order_in_batches() -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"content-type": "application/x-ndjson"})
        await resp.prepare(request)
        await resp.write(BODY[:-10])
        await asyncio.sleep(0.05)  # so the rest is a read of its own
        await resp.write(BODY[-10:])
        await resp.write_eof()
        return resp

    async def run() -> list[Any]:
        app = web.Application()
        app.router.add_post("/echo", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        req = HttpRequest("POST", f"http://127.0.0.1:{port}/echo", json={}, framing="ndjson")
        t = Transport()
        try:
            async with t.astream(req, TIMEOUTS, provider="p", model="m") as (err, events):
                assert err is None
                return [batch async for batch in events]
        finally:
            await t.aclose()
            await runner.cleanup()

    batches = asyncio.run(run())
    assert all(isinstance(b, list) and b for b in batches)
    assert [e for b in batches for e in b] == EVENTS
    assert batches[-1] == EVENTS[4:]  # the event that arrived after the pause: a batch of its own


class _RejectsSecond:
    """A framing whose second frame is malformed: one good event, then the error."""

    def feed(self, data: bytes) -> Iterator[StreamEvent]:
        yield EVENTS[0]
        raise ValueError("malformed frame")

    def close(self) -> Iterator[StreamEvent]:
        return iter(())


def test_events_before_a_frame_the_decoder_rejects_still_go_up_first() -> None:
    register_framing("test-rejects-second", _RejectsSecond)
    t = Transport(client=httpx.Client(transport=_mock([b"x"])))
    got: list[Any] = []
    try:
        with (t.stream(_request("test-rejects-second"), TIMEOUTS, provider="p",
                       model="m") as (_, events),
              pytest.raises(ValueError, match="malformed frame")):
            for batch in events:
                got.append(batch)
    finally:
        t.close()
    assert got == [EVENTS[:1]]


# --- the router: a batch makes the same chunks as single events ----------------------


class _Scripted(Transport):
    """A third party's transport: streams ``EVENTS`` in the shape given, no socket."""

    def __init__(self, shape: list[Any]) -> None:
        super().__init__()
        self.shape = shape

    @contextmanager
    def stream(self, req: HttpRequest, timeouts: Timeouts, **kw: Any) -> Iterator[Any]:
        yield None, iter(self.shape)

    @asynccontextmanager
    async def astream(self, req: HttpRequest, timeouts: Timeouts, **kw: Any
                      ) -> AsyncIterator[Any]:
        async def events() -> AsyncIterator[Any]:
            for item in self.shape:
                yield item

        yield None, events()


SHAPES = {
    "single events": list(EVENTS),
    "one batch": [list(EVENTS)],
    "mixed": [EVENTS[:2], EVENTS[2], (EVENTS[3], EVENTS[4])],  # any sequence is a batch
}


def _router(registry: PluginRegistry, shape: list[Any]) -> Router:
    return Router({
        "providers": {"p": {"type": "echo", "base_url": "http://stream.test"}},
        "agents": {"bot": {"model": "p/m"}},
    }, registry=registry, transport=_Scripted(shape))


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("shape", list(SHAPES))
def test_the_chunks_and_their_order_do_not_depend_on_how_events_are_batched(
    echo_registry: PluginRegistry, shape: str, mode: str,
) -> None:
    router = _router(echo_registry, SHAPES[shape])
    request = ChatRequest(messages=[Message.user("hi")], routing=RoutingHints(agent="bot"))

    async def collect() -> list[Any]:
        return [c async for c in router.astream(request)]

    try:
        chunks = list(router.stream(request)) if mode == "sync" else asyncio.run(collect())
    finally:
        router.close()
    assert [c.text for c in chunks] == [*WORDS, ""]
    final = chunks[-1]
    assert final.finish_reason == "stop"
    assert final.usage is not None and final.usage.output_tokens == 4
    assert all(c.provider == "p" and c.model == "m" for c in chunks)


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("batched", [False, True])
def test_a_stream_cut_mid_batch_still_sends_the_content_before_the_cut(
    echo_registry: PluginRegistry, batched: bool, mode: str,
) -> None:
    # content, then an in-band error in the same read: the content reaches the caller,
    # then the failure is a mid-stream one (no fallback after content), as before batching
    events = [*EVENTS[:2], _line({"error": "overloaded"})]
    router = _router(echo_registry, [events] if batched else events)
    request = ChatRequest(messages=[Message.user("hi")], routing=RoutingHints(agent="bot"))
    got: list[str] = []

    async def collect() -> None:
        async for chunk in router.astream(request):
            got.append(chunk.text)

    try:
        with pytest.raises(StreamInterruptedError):
            if mode == "sync":
                for chunk in router.stream(request):
                    got.append(chunk.text)
            else:
                asyncio.run(collect())
    finally:
        router.close()
    assert got == WORDS[:2]


# --- the drivers: a read's chunks as one Each ------------------------------------------


def _each_steps(seen: list[str]) -> Generator[Each[str], Any, None]:
    try:
        yield Each(iter(["one", "two", "three"]))
        yield Each(iter(["four"]))
    except BaseException as exc:  # reaches the steps at the Each it interrupted
        seen.append(type(exc).__name__)
        raise


def test_the_drivers_hand_out_each_item_and_an_early_close_reaches_the_steps() -> None:
    assert list(iterate(_each_steps([]))) == ["one", "two", "three", "four"]
    seen: list[str] = []
    words = iterate(_each_steps(seen))
    assert [next(words), next(words)] == ["one", "two"]
    words.close()  # type: ignore[attr-defined]

    async def run() -> list[str]:
        got = [w async for w in aiterate(_each_steps([]))]
        agen = aiterate(_each_steps(seen))
        got.append(await agen.__anext__())
        await agen.aclose()  # type: ignore[attr-defined]
        return got

    assert asyncio.run(run()) == ["one", "two", "three", "four", "one"]
    assert seen == ["GeneratorExit", "GeneratorExit"]
