"""The StateStore's async face: the same contract as the sync one on every backend,
and a store that stalls (a paused Redis, a locked SQLite file) holds only the calls
waiting on it, never the event loop the other tasks run on."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from stall_proxy import StallProxy

from polyroute.errors import StateStoreError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.state.base import StateStore
from polyroute.testing.standin import StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints

Redis = tuple[str, str]


async def test_the_async_face_keeps_the_store_contract(store: StateStore) -> None:
    await store.aset("k", {"state": "open", "n": 2})
    assert await store.aget("k") == {"state": "open", "n": 2}
    assert store.get("k") == {"state": "open", "n": 2}  # one store, two faces
    await store.adelete("k")
    assert await store.aget("k") is None
    assert await store.aincr("c", 2.5) == 2.5
    assert await store.aincr("c", -1) == 1.5
    assert await store.areserve("b", 6, limit=10)
    assert not await store.areserve("b", 5, limit=10)  # all or nothing
    assert await store.anumber("b") == 6
    with pytest.raises(StateStoreError, match="finite"):
        await store.aincr("c", float("nan"))
    await store.aset("bad", "not a number")
    with pytest.raises(StateStoreError, match=r"'.*bad'"):
        await store.areserve("bad", 1, limit=5)
    await store.aclose()


async def test_many_tasks_reserving_at_once_never_pass_the_limit(store: StateStore) -> None:
    granted = await asyncio.gather(*(store.areserve("budget", 0.7, limit=20.0)
                                     for _ in range(64)))
    assert sum(granted) == 28  # floor(20 / 0.7)
    assert await store.anumber("budget") == pytest.approx(28 * 0.7)


def _config(state: dict[str, Any], server: StandinServer) -> dict[str, Any]:
    """Breaker, rate limit and budget on: each call reads and writes the store. Every
    guard fails closed: a loop that blocked on the stalled store until the client's
    timeout would fail the call, not carry on uncounted and pass the test."""
    state = {**state, "on_failure": {"budget": "closed", "rate_limit": "closed",
                                     "breaker": "closed", "health": "closed"}}
    return {
        "providers": {"a": {"type": "echo", "base_url": server.url, "rpm": 100000}},
        "agents": {"bot": {"model": "a:m"}},
        "models": {"a:m": {"prices": {"input": 1.0, "output": 1.0}}},
        "budgets": [{"scope": "global", "usd": 100, "per": "day", "on_exceed": "block"}],
        "breaker": {"failures": 3, "cooldown": 60},
        "state": state,
    }


ASK = ChatRequest(messages=[Message.user("hi")], routing=RoutingHints(agent="bot"))


async def _progress_while_stalled(router: Router, release: Any, held: Any) -> tuple[int, str]:
    """Start a call while the store is stalled; count event-loop turns until the call
    is seen waiting on the store, then release the store. Returns (turns counted
    before the release, the call's answer)."""
    ticks = 0
    call = asyncio.create_task(router.achat(ASK))
    # the loop keeps turning while the call waits: each turn here is another task's
    # progress. A blocked loop would never get back here until the store's timeout.
    while not held():
        ticks += 1
        await asyncio.sleep(0)
    for _ in range(100):
        ticks += 1
        await asyncio.sleep(0)
    assert not call.done()  # still waiting on the store, and the loop kept running
    release()
    answer = await call
    return ticks, answer.provider


@pytest.mark.standin
async def test_a_paused_redis_does_not_stall_the_event_loop(
    redis_url: Redis, echo_registry: PluginRegistry, primary: StandinServer,
) -> None:
    url, prefix = redis_url
    parts = urlsplit(url)
    with StallProxy(parts.hostname or "127.0.0.1", parts.port or 6379) as proxy:
        proxied = urlunsplit(parts._replace(netloc=f"127.0.0.1:{proxy.port}"))
        # every read and write at once: with leases and held writes the next call
        # would not need the store at all (a warm lease), and nothing would wait
        router = Router(_config({"backend": "redis", "url": proxied, "prefix": prefix,
                                 "read_cache_ms": 0, "write_behind_ms": 0,
                                 "lease_calls": 0}, primary),
                        registry=echo_registry)
        async with router:
            assert (await router.achat(ASK)).provider == "a"  # warm: connections open
            proxy.pause()
            ticks, provider = await _progress_while_stalled(
                router, proxy.resume, proxy.held.is_set)
    assert provider == "a" and ticks >= 100


@pytest.mark.standin
async def test_a_locked_sqlite_file_does_not_stall_the_event_loop(
    tmp_path: Path, echo_registry: PluginRegistry, primary: StandinServer,
) -> None:
    path = tmp_path / "state.db"
    router = Router(_config({"backend": "sqlite", "path": str(path)}, primary),
                    registry=echo_registry)
    other = sqlite3.connect(path, isolation_level=None)  # another process, say
    async with router:
        assert (await router.achat(ASK)).provider == "a"
        other.execute("BEGIN IMMEDIATE")  # holds the write lock: the router's writes wait
        waiting = _Waiting(path)

        def release() -> None:
            other.execute("COMMIT")

        ticks, provider = await _progress_while_stalled(router, release, waiting.seen)
    other.close()
    assert provider == "a" and ticks >= 100


class _Waiting:
    """Whether a router thread is blocked on the SQLite lock: it cannot be observed
    from outside, so count loop turns instead; 50 turns with the call unfinished
    means it is waiting (on a blocked loop there would be no turns at all)."""

    def __init__(self, path: Path) -> None:
        self.turns = 0

    def seen(self) -> bool:
        self.turns += 1
        return self.turns > 50


async def test_a_cancelled_call_settles_its_reservation_off_the_loop(
    redis_url: Redis, echo_registry: PluginRegistry,
) -> None:
    """Cancel a call, then pause the store before its guards settle: the settling runs
    off the loop, waits for the store, and ends as the sync path would (the budget's
    hold kept as spent, nothing left reserved: issue 9's rule for interrupted calls)."""
    url, prefix = redis_url
    parts = urlsplit(url)
    slow = _Slow()
    hold = StandinServer(slow)
    with hold, StallProxy(parts.hostname or "127.0.0.1", parts.port or 6379) as proxy:
        proxied = urlunsplit(parts._replace(netloc=f"127.0.0.1:{proxy.port}"))
        router = Router(_config({"backend": "redis", "url": proxied, "prefix": prefix}, hold),
                        registry=echo_registry)
        async with router:
            slow.gate.clear()
            call = asyncio.create_task(router.achat(ASK))
            # reserved; now at the provider
            assert await asyncio.to_thread(slow.entered.wait, 10)
            proxy.pause()
            call.cancel()
            slow.gate.set()
            for _ in range(50):
                await asyncio.sleep(0)
            proxy.resume()
            with pytest.raises(asyncio.CancelledError):
                await call
            key = _budget_key(router)
    # read once the router closed: an unused budget lease is given back by then
    from polyroute.state.redis import RedisStore

    store = RedisStore(url, prefix=prefix)
    held, spent = store.number(key), store.number(key + ":spent")
    store.close()
    assert held > 0 and spent == pytest.approx(held)


def _budget_key(router: Router) -> str:
    import redis

    from polyroute.state.redis import RedisStore

    store = router.state
    assert isinstance(store, RedisStore)
    raw = redis.Redis.from_url(store._url)
    try:
        keys = [k.decode()[len(store.prefix):] for k in raw.scan_iter(store.prefix + "budget*")]
    finally:
        raw.close()
    assert keys, "the call reserved nothing"
    return sorted(keys, key=len)[0]


class _Slow:
    """An echo responder that waits for ``gate`` before answering."""

    def __init__(self) -> None:
        import threading

        from echo_provider import EchoResponder

        self.inner = EchoResponder("slow")
        self.gate = threading.Event()
        self.entered = threading.Event()

    def answer(self, request: Any) -> Any:
        self.entered.set()
        self.gate.wait(10)
        return self.inner.answer(request)


@pytest.mark.standin
async def test_a_stream_on_a_paused_redis_does_not_stall_the_event_loop(
    redis_url: Redis, echo_registry: PluginRegistry, primary: StandinServer,
) -> None:
    url, prefix = redis_url
    parts = urlsplit(url)
    with StallProxy(parts.hostname or "127.0.0.1", parts.port or 6379) as proxy:
        proxied = urlunsplit(parts._replace(netloc=f"127.0.0.1:{proxy.port}"))
        router = Router(_config({"backend": "redis", "url": proxied, "prefix": prefix}, primary),
                        registry=echo_registry)
        async with router:
            first = [c async for c in router.astream(ASK)]  # warm: connections open
            proxy.pause()

            async def read() -> str:
                return "".join(c.text or "" for c in [c async for c in router.astream(ASK)])

            call = asyncio.create_task(read())
            ticks = 0
            while not proxy.held.is_set():
                ticks += 1
                await asyncio.sleep(0)
            for _ in range(100):
                ticks += 1
                await asyncio.sleep(0)
            assert not call.done()
            proxy.resume()
            text = await call
    assert first and "primary says" in text and ticks >= 100


@pytest.mark.standin
async def test_a_warm_worker_answers_while_redis_pauses(
    redis_url: Redis, echo_registry: PluginRegistry, primary: StandinServer,
) -> None:
    """With leases and held writes (the defaults) a call that finds its budget and
    rate-limit leases warm and its steering reads fresh needs no round trip at all:
    a Redis that pauses for a moment does not hold it. What it holds back (settled
    amounts, samples) goes out when Redis answers again."""
    url, prefix = redis_url
    parts = urlsplit(url)
    with StallProxy(parts.hostname or "127.0.0.1", parts.port or 6379) as proxy:
        proxied = urlunsplit(parts._replace(netloc=f"127.0.0.1:{proxy.port}"))
        # long read cache and write-behind: however slow the machine, the second call
        # finds every steering read fresh and sends nothing
        router = Router(_config({"backend": "redis", "url": proxied, "prefix": prefix,
                                 "read_cache_ms": 60_000, "write_behind_ms": 60_000},
                                primary),
                        registry=echo_registry)
        async with router:
            assert (await router.achat(ASK)).provider == "a"  # leases taken
            proxy.pause()
            try:
                answer = await asyncio.wait_for(router.achat(ASK), 5)
            finally:
                proxy.resume()
            assert answer.provider == "a"
