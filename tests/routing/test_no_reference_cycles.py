"""A routed call leaves no reference cycle behind: everything it made is freed when
it ends, by reference counting, not later by the cyclic garbage collector.

Under concurrency every cycle a call leaves is work for the collector: at c=64 a
plan left half evaluated (the answer came from its first candidate) kept ~20
objects per call in a cycle with its evaluation, and the collector's passes over
them cost ~25 µs per call, 8 % of the CPU (docs/benchmark.md, "2026-12-05 05:30").
A stream the caller leaves early left ~50 per call in a cycle through the
``GeneratorExit`` its driver kept; a failed attempt ~60-130 through its traceback.

Each path runs with the collector off; then a collection must free nearly nothing
of polyroute's (``polyroute.testing.cycles``: only polyroute's objects and its code's
frames, generators and functions are counted, so other threads of the test process
cannot disturb the count).
"""

from __future__ import annotations

import asyncio
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
from polyroute.testing.cycles import left_in_cycles
from polyroute.transport import Transport
from polyroute.types import ChatRequest, Message, RoutingHints

CALLS = 60
ANSWER = HttpResponse(200, {"content-type": "application/json"},
                      json.dumps({"text": "hi", "in": 3, "out": 1, "model": "m"}).encode())
DOWN = HttpResponse(500, {"content-type": "application/json"}, b'{"error": "down"}')
EVENTS = [StreamEvent(json.dumps({"text": f"w{i} "})) for i in range(5)] + [
    StreamEvent(json.dumps({"done": True, "in": 3, "out": 5}))]


class Instant(Transport):
    """Answers at once, no socket (a socket's own library is not what is tested). A
    provider whose base URL says ``down`` answers 500; ``flaky``, 500 and 200 by
    turns; ``slow`` never answers; ``cut`` streams without its last line."""

    def __init__(self) -> None:
        super().__init__()
        self.turn = 0

    def _answer(self, url: str) -> HttpResponse:
        if "flaky" in url:
            self.turn += 1
            return DOWN if self.turn % 2 else ANSWER
        return DOWN if "down" in url else ANSWER

    def send(self, req: HttpRequest, timeouts: Any, **kw: Any) -> HttpResponse:
        return self._answer(req.url)

    async def asend(self, req: HttpRequest, timeouts: Any, **kw: Any) -> HttpResponse:
        if "slow" in req.url:
            await asyncio.sleep(3600)
        return self._answer(req.url)

    @contextmanager
    def stream(self, req: HttpRequest, timeouts: Any, **kw: Any) -> Iterator[Any]:
        answer, events = self._answer(req.url), EVENTS[:-1] if "cut" in req.url else EVENTS
        yield (None, iter([list(events)])) if answer.status == 200 else (answer, iter(()))

    @asynccontextmanager
    async def astream(self, req: HttpRequest, timeouts: Any, **kw: Any
                      ) -> AsyncIterator[Any]:
        answer, sent = self._answer(req.url), EVENTS[:-1] if "cut" in req.url else EVENTS

        async def events() -> AsyncIterator[list[StreamEvent]]:
            if answer.status == 200:
                yield list(sent)

        yield (None if answer.status == 200 else answer), events()


def make_router(registry: PluginRegistry, tmp_path: Path, backend: str, *,
                breaker: bool) -> Router:
    """Every guard that keeps per-call state on: breakers (or not), health, rate
    limits, a budget, the ledger; state in memory, or in SQLite (the async paths then
    advance their steps off the event loop)."""
    return Router({
        "providers": {"p": {"type": "echo", "base_url": "http://up.test", "rpm": 10**9},
                      "q": {"type": "echo", "base_url": "http://down.test"},
                      "f": {"type": "echo", "base_url": "http://flaky.test"},
                      "s": {"type": "echo", "base_url": "http://slow.test"},
                      "c": {"type": "echo", "base_url": "http://cut.test"}},
        "agents": {"bot": {"model": "p/m"},
                   "fallback": {"model": "q/m", "fallbacks": ["p/m"]},
                   "failing": {"model": "q/m"},
                   "retried": {"model": "f/m"},
                   "slow": {"model": "s/m"},
                   "cut": {"model": "c/m", "fallbacks": ["p/m"]}},
        "state": {"backend": backend, "path": str(tmp_path / "state.db")},
        "budgets": [{"scope": "global", "usd": 10**6, "per": "day"}],
        "rate_limits": {"deployments": {"p": {"rpm": 10**9, "tpm": 10**12}}},
        "ledger": {"path": str(tmp_path / "ledger.db")},
        "retry": {"attempts": 2, "initial_backoff": 0, "max_backoff": 0},
        # on: the first failure opens q's circuit, and calls then fall back (or fail)
        # as through an outage, skipping q; off: every call's attempts at q fail
        "breaker": {"failures": 1} if breaker else {"enabled": False},
    }, registry=registry, transport=Instant())


@pytest.fixture(params=["memory", "sqlite"])
def router(echo_registry: PluginRegistry, tmp_path: Path, request: pytest.FixtureRequest
           ) -> Iterator[Router]:
    with make_router(echo_registry, tmp_path, request.param, breaker=True) as r:
        yield r


@pytest.fixture(params=["memory", "sqlite"])
def failing_router(echo_registry: PluginRegistry, tmp_path: Path,
                   request: pytest.FixtureRequest) -> Iterator[Router]:
    with make_router(echo_registry, tmp_path, request.param, breaker=False) as r:
        yield r


def ask(agent: str = "bot", *, stream: bool = False) -> ChatRequest:
    return ChatRequest(messages=[Message.user("hi")], routing=RoutingHints(agent=agent),
                       stream=stream)


def paths(router: Router) -> dict[str, Callable[[], Any]]:
    """Each path as a no-argument callable (a coroutine function for the async ones).
    Failures are caught with plain ``except``: ``pytest.raises`` clears the frames of
    what it catches, which would hide a cycle through them."""

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
        try:
            await router.achat(ask("failing"))
        except PolyrouteError:
            return
        raise AssertionError("the call did not fail")

    async def cancelled() -> None:
        call = asyncio.ensure_future(router.achat(ask("slow")))
        for _ in range(20):  # until it waits for the answer
            await asyncio.sleep(0)
        call.cancel()
        try:
            await call
        except asyncio.CancelledError:
            return
        raise AssertionError("the call was not cancelled")

    def stream_left() -> None:
        chunks = router.stream(ask(stream=True))
        for _ in chunks:
            break
        chunks.close()  # type: ignore[attr-defined]

    def failed() -> None:
        try:
            router.chat(ask("failing"))
        except PolyrouteError:
            return
        raise AssertionError("the call did not fail")

    async def aretried() -> None:
        await router.achat(ask("retried"))

    async def afallback() -> None:
        await router.achat(ask("fallback"))

    async def astream_fallback() -> None:
        async for _ in router.astream(ask("fallback", stream=True)):
            pass

    async def astream_cut() -> None:
        try:
            async for _ in router.astream(ask("cut", stream=True)):
                pass
        except PolyrouteError:
            return
        raise AssertionError("the stream did not fail")

    def stream_cut() -> None:
        try:
            list(router.stream(ask("cut", stream=True)))
        except PolyrouteError:
            return
        raise AssertionError("the stream did not fail")

    return {
        "chat": lambda: router.chat(ask()),
        "achat": achat,
        "fallback": lambda: router.chat(ask("fallback")),
        "afallback": afallback,
        "stream": lambda: list(router.stream(ask(stream=True))),
        "astream": astream,
        "stream fallback": lambda: list(router.stream(ask("fallback", stream=True))),
        "astream fallback": astream_fallback,
        "stream left early": stream_left,
        "astream left early": astream_left,
        "failed": failed,
        "afailed": afailed,
        "cancelled": cancelled,
        "retried": lambda: router.chat(ask("retried")),
        "aretried": aretried,
        "stream cut": stream_cut,
        "astream cut": astream_cut,
    }


PATHS = ("chat", "achat", "fallback", "afallback", "stream", "astream", "stream fallback",
         "astream fallback", "stream left early", "astream left early", "failed", "afailed",
         "cancelled")
# attempts that fail: retried then answered, retried and fallen back, retried and
# failed; a stream cut after its first chunks (given up: content was sent)
FAILING = ("retried", "aretried", "fallback", "afallback", "stream fallback",
           "astream fallback", "failed", "afailed", "stream cut", "astream cut")


def freed_by_the_collector(call: Callable[[], Any]) -> Counter[str]:
    """What of polyroute's one collection frees after ``CALLS`` calls made with the
    collector off (``polyroute.testing.cycles``), async ones on one event loop."""
    loop = asyncio.new_event_loop()
    try:
        return left_in_cycles(call, calls=CALLS, loop=loop)
    finally:
        loop.close()


def assert_no_cycle(path: str, freed: Counter[str]) -> None:
    # a cycle of the call's own is one object of polyroute's per call or more
    assert sum(freed.values()) < CALLS / 2, (
        f"{path}: {sum(freed.values()) / CALLS:.1f} objects per call were left in "
        f"reference cycles: {freed.most_common(8)}")


@pytest.mark.parametrize("path", PATHS)
def test_a_call_leaves_nothing_for_the_garbage_collector(router: Router, path: str) -> None:
    assert_no_cycle(path, freed_by_the_collector(paths(router)[path]))


@pytest.mark.parametrize("path", FAILING)
def test_a_failed_attempt_leaves_nothing_for_the_garbage_collector(
    failing_router: Router, path: str,
) -> None:
    assert_no_cycle(path, freed_by_the_collector(paths(failing_router)[path]))
