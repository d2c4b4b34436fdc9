"""A routed call leaves no reference cycle behind: everything it made is freed when
it ends, by reference counting, not later by the cyclic garbage collector.

Under concurrency every cycle a call leaves is work for the collector: at c=64 a
plan left half evaluated (the answer came from its first candidate) kept ~20
objects per call in a cycle with its evaluation, and the collector's passes over
them cost ~25 µs per call, 8 % of the CPU (docs/benchmark.md, "2026-12-05 05:40").
A stream the caller leaves early left ~50 per call in a cycle through the
``GeneratorExit`` its driver kept.

Each path runs with the collector off; then a collection must find nearly nothing
of the call's to free. Tuples and dicts are left out of the count: a collection
stops tracking those that hold only atoms (the ledger's rows), which is no freeing.
"""

from __future__ import annotations

import asyncio
import gc
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest

from polyroute.errors import PolyrouteError
from polyroute.plugins import PluginRegistry
from polyroute.providers import HttpRequest, HttpResponse, StreamEvent
from polyroute.router import Router
from polyroute.transport import Transport
from polyroute.types import ChatRequest, Message, RoutingHints

CALLS = 60
ANSWER = HttpResponse(200, {"content-type": "application/json"},
                      json.dumps({"text": "hi", "in": 3, "out": 1, "model": "m"}).encode())
DOWN = HttpResponse(500, {"content-type": "application/json"}, b'{"error": "down"}')
EVENTS = [StreamEvent(json.dumps({"text": f"w{i} "})) for i in range(5)] + [
    StreamEvent(json.dumps({"done": True, "in": 3, "out": 5}))]


class Instant(Transport):
    """Answers at once, no socket (a socket's own library is not what is tested);
    a provider whose base URL says ``down`` answers 500, ``slow`` never answers."""

    def send(self, req: HttpRequest, timeouts: Any, **kw: Any) -> HttpResponse:
        return DOWN if "down" in req.url else ANSWER

    async def asend(self, req: HttpRequest, timeouts: Any, **kw: Any) -> HttpResponse:
        if "slow" in req.url:
            await asyncio.sleep(3600)
        return self.send(req, timeouts)

    @contextmanager
    def stream(self, req: HttpRequest, timeouts: Any, **kw: Any) -> Iterator[Any]:
        yield None, iter([list(EVENTS)])

    @asynccontextmanager
    async def astream(self, req: HttpRequest, timeouts: Any, **kw: Any
                      ) -> AsyncIterator[Any]:
        async def events() -> AsyncIterator[list[StreamEvent]]:
            yield list(EVENTS)

        yield None, events()


@pytest.fixture(params=["memory", "sqlite"])
def router(echo_registry: PluginRegistry, tmp_path: Path, request: pytest.FixtureRequest
           ) -> Iterator[Router]:
    """Every guard that keeps per-call state on: breakers, health, rate limits, a
    budget, the ledger; state in memory, or in SQLite (the async paths then advance
    their steps off the event loop)."""
    cfg = {
        "providers": {"p": {"type": "echo", "base_url": "http://up.test", "rpm": 10**9},
                      "q": {"type": "echo", "base_url": "http://down.test"},
                      "s": {"type": "echo", "base_url": "http://slow.test"}},
        "agents": {"bot": {"model": "p/m"},
                   "fallback": {"model": "q/m", "fallbacks": ["p/m"]},
                   "failing": {"model": "q/m"},
                   "slow": {"model": "s/m"}},
        "state": {"backend": request.param, "path": str(tmp_path / "state.db")},
        "budgets": [{"scope": "global", "usd": 10**6, "per": "day"}],
        "rate_limits": {"deployments": {"p": {"rpm": 10**9, "tpm": 10**12}}},
        "ledger": {"path": str(tmp_path / "ledger.db")},
        "retry": {"attempts": 1},
        # the first failure opens q's circuit: then calls fall back (or fail) as they
        # do through an outage, skipping q (see the module's note on failed attempts)
        "breaker": {"failures": 1},
    }
    with Router(cfg, registry=echo_registry, transport=Instant()) as r:
        yield r


def ask(agent: str = "bot", *, stream: bool = False) -> ChatRequest:
    return ChatRequest(messages=[Message.user("hi")], routing=RoutingHints(agent=agent),
                       stream=stream)


def paths(router: Router) -> dict[str, Callable[[], Any]]:
    """Each path as a no-argument callable (a coroutine function for the async ones)."""

    async def achat() -> None:
        await router.achat(ask())

    async def astream() -> None:
        async for _ in router.astream(ask(stream=True)):
            pass

    async def astream_left() -> None:
        chunks = router.astream(ask(stream=True))
        async for _ in chunks:
            break
        await chunks.aclose()  # type: ignore[attr-defined]

    async def afailed() -> None:
        with pytest.raises(PolyrouteError):
            await router.achat(ask("failing"))

    async def cancelled() -> None:
        call = asyncio.ensure_future(router.achat(ask("slow")))
        for _ in range(20):  # until it waits for the answer
            await asyncio.sleep(0)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call

    def stream_left() -> None:
        chunks = router.stream(ask(stream=True))
        for _ in chunks:
            break
        chunks.close()  # type: ignore[attr-defined]

    def failed() -> None:
        with pytest.raises(PolyrouteError):
            router.chat(ask("failing"))

    return {
        "chat": lambda: router.chat(ask()),
        "achat": achat,
        "fallback": lambda: router.chat(ask("fallback")),
        "stream": lambda: list(router.stream(ask(stream=True))),
        "astream": astream,
        "stream left early": stream_left,
        "astream left early": astream_left,
        "failed": failed,
        "afailed": afailed,
        "cancelled": cancelled,
    }


PATHS = ("chat", "achat", "fallback", "stream", "astream", "stream left early",
         "astream left early", "failed", "afailed", "cancelled")


def freed_by_the_collector(call: Callable[[], Any]) -> Counter[str]:
    """Objects (by type) that only a collection freed, after ``CALLS`` calls made with
    the collector off."""
    loop = asyncio.new_event_loop()  # one loop for every call: its own objects live on

    def run(n: int) -> None:
        for _ in range(n):
            if asyncio.iscoroutinefunction(call):
                loop.run_until_complete(call())
            else:
                call()

    try:
        run(3)  # the first calls fill caches that live on
        gc.collect()
        gc.disable()
        try:
            run(CALLS)
            before = Counter(type(o).__name__ for o in gc.get_objects())
            gc.collect()
            after = Counter(type(o).__name__ for o in gc.get_objects())
        finally:
            gc.enable()
    finally:
        loop.close()
    freed = before - after
    del freed["tuple"], freed["dict"]
    return freed


@pytest.mark.parametrize("path", PATHS)
def test_a_call_leaves_nothing_for_the_garbage_collector(router: Router, path: str) -> None:
    freed = freed_by_the_collector(paths(router)[path])
    # a cycle of the call's own is at least one object per call
    assert sum(freed.values()) < CALLS / 2, (
        f"{path}: {sum(freed.values()) / CALLS:.1f} objects per call were left in "
        f"reference cycles: {freed.most_common(8)}")
