"""Async streams over the default transport (aiohttp): a stream left half-read never
hands its connection to the next call, every failure is a typed ``PolyrouteError``, and
the caller's own deadline stays the caller's (a ``TimeoutError``, not a provider one)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from resilience_helpers import ask

from polyroute.errors import NoRouteError, PolyrouteError, ProviderError, StreamInterruptedError
from polyroute.testing.standin import Fault, StandinServer
from polyroute.transport_aiohttp import AiohttpSender

TIMEOUTS = {"connect": 2, "read": 2, "first_token": 0.5, "chunk": 0.3, "total": 30}


def test_the_default_async_transport_streams_over_aiohttp(make_router) -> None:  # type: ignore[no-untyped-def]
    router = make_router()
    assert isinstance(router.transport._sender, AiohttpSender)


def test_a_stream_abandoned_half_way_does_not_poison_the_pool(
    make_router, primary: StandinServer,
) -> None:  # type: ignore[no-untyped-def]
    router = make_router(agents={"bot": {"model": "primary:m1"}})
    primary.push(Fault.stall(2, 1.0))  # the server is still mid-answer when we leave

    async def run() -> tuple[str, str, str]:
        stream = router.astream(ask("first"))
        first = await stream.__anext__()
        await stream.aclose()
        answer = (await router.achat(ask("second"))).message.text
        streamed = "".join([c.text async for c in router.astream(ask("third"))])
        return first.text, answer, streamed

    first, answer, streamed = asyncio.run(run())
    assert first == "primary "  # the first chunk
    assert answer == "primary says: second"  # not the rest of the first answer's bytes
    assert streamed.strip() == "primary says: third"
    assert router.health.in_flight("primary/m1") == 0


def test_every_async_stream_failure_is_typed(make_router, primary: StandinServer) -> None:  # type: ignore[no-untyped-def]
    router = make_router(retry={"attempts": 1}, agents={"bot": {"model": "primary:m1"}},
                         timeouts=TIMEOUTS)
    faults = [Fault.status(502), Fault.reset(), Fault.malformed(), Fault.cut_stream(2),
              Fault.in_band_error(2), Fault.truncate_stream(2), Fault.stall(2, 1.5),
              Fault.slow_first_chunk(1.5)]

    async def drain() -> None:
        async for _ in router.astream(ask()):
            pass

    for fault in faults:
        primary.clear()
        primary.push(fault)
        with pytest.raises(PolyrouteError) as info:
            asyncio.run(drain())
        assert isinstance(info.value, NoRouteError | StreamInterruptedError), fault
    primary.clear()
    assert asyncio.run(router.achat(ask("after"))).message.text == "primary says: after"


def test_the_callers_own_deadline_is_not_reported_as_the_providers(
    make_router, primary: StandinServer,
) -> None:  # type: ignore[no-untyped-def]
    router = make_router(agents={"bot": {"model": "primary:m1"}},
                         timeouts={"connect": 2, "read": 5, "total": 30})
    primary.push(Fault.stall(2, 2.0))
    received: list[Any] = []

    async def run() -> None:
        async with asyncio.timeout(0.3):
            async for c in router.astream(ask()):
                received.append(c)

    with pytest.raises(TimeoutError) as info:
        asyncio.run(run())
    assert not isinstance(info.value, ProviderError)
    assert "".join(c.text for c in received) == "primary says: "  # the chunks before the stall
    assert router.health.in_flight("primary/m1") == 0
