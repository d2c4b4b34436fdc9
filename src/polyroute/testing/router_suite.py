"""The router scenarios every provider plugin proves against its stand-in.

``FallbackPair`` runs a plugin end to end through ``polyroute.router.Router``
against two stand-ins, the second the first one's fallback: a normal answer
(plain and streamed), a 429 retried after its wait, two 500s falling back
to the second stand-in, and all of these, blocking and async, leaving nothing of
polyroute's or the plugin's in a reference cycle (work for the cyclic GC on every
call). A plugin's
test module subclasses it (under a name that starts with ``Test``), says how to
build its responder and provider entries, and adds its own scenarios as
methods that take the ``setup`` fixture:

```python
class TestRouter(FallbackPair):
    plugin = polyroute_myprovider.plugin
    model = "my-model"
    greeting = "Hello from the stand-in: "  # the stand-in's echo of the question

    def responder(self) -> Responder:
        return MyResponder()

    def provider_entry(self, name: str, server: StandinServer) -> dict[str, Any]:
        return {"type": "my", "base_url": server.url, "api_key": "k-test"}
```
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any, ClassVar, NamedTuple

import pytest

from polyroute.router import Router
from polyroute.testing.cycles import left_in_cycles
from polyroute.testing.routers import router_for
from polyroute.testing.sleeps import SleepRecorder
from polyroute.testing.standin import Fault, Responder, StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints

__all__ = ["FallbackPair", "PairSetup"]


class PairSetup(NamedTuple):
    router: Router
    main: StandinServer
    backup: StandinServer
    sleeps: SleepRecorder


class FallbackPair:
    """Normal answer, 429 retried, fallback to a second stand-in (see module doc)."""

    plugin: ClassVar[object]
    """The plugin module (or object) whose hooks the router registers."""
    model: ClassVar[str]
    backup_model: ClassVar[str | None] = None
    """The fallback's model, when it is not ``model``."""
    greeting: ClassVar[str]
    """What the stand-in puts before the echoed question in its answer."""
    names: ClassVar[tuple[str, str]] = ("main", "backup")
    """The two providers' names in the config (the second is the fallback)."""
    question: ClassVar[str] = "What is 2+2?"
    min_retry_wait: ClassVar[float] = 0.25
    """The wait the 429 scenario asks for (``retry_after`` of the fault) and expects."""

    def responder(self) -> Responder:
        raise NotImplementedError("a FallbackPair subclass builds its stand-in's responder")

    def backup_responder(self) -> Responder:
        return self.responder()

    def provider_entry(self, name: str, server: StandinServer) -> dict[str, Any]:
        raise NotImplementedError("a FallbackPair subclass gives its provider config entry")

    def rate_limit_fault(self) -> Fault:
        return Fault.status(429, retry_after=self.min_retry_wait)

    def config(self, main: StandinServer, backup: StandinServer) -> dict[str, Any]:
        first, second = self.names
        return {
            "providers": {first: self.provider_entry(first, main),
                          second: self.provider_entry(second, backup)},
            "agents": {"bot": {"model": f"{first}:{self.model}",
                               "fallbacks": [f"{second}:{self.backup_model or self.model}"]}},
            "retry": {"attempts": 2, "initial_backoff": 0.1},
            "timeouts": {"read": 2, "total": 20},
        }

    def ask(self, *messages: Message, **kw: Any) -> ChatRequest:
        return ChatRequest(messages=list(messages) or [Message.user(self.question)],
                           routing=RoutingHints(agent="bot"), **kw)

    # --- fixtures ---------------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    def servers(cls) -> Iterator[tuple[StandinServer, StandinServer]]:
        suite = cls()  # the responders are instance methods, like the scenarios
        with StandinServer(suite.responder()) as main, \
                StandinServer(suite.backup_responder()) as backup:
            yield main, backup

    @pytest.fixture
    def setup(self, servers: tuple[StandinServer, StandinServer]) -> Iterator[PairSetup]:
        main, backup = servers
        for server in servers:
            server.clear()
        sleeps = SleepRecorder()
        with router_for(self.config(main, backup), self.plugin, sleeps=sleeps) as router:
            yield PairSetup(router, main, backup, sleeps)

    # --- scenarios --------------------------------------------------------------

    def test_normal_answer(self, setup: PairSetup) -> None:
        expected = self.greeting + self.question
        resp = setup.router.chat(self.ask())
        assert (resp.provider, resp.model) == (self.names[0], self.model)
        assert resp.message.text == expected
        assert [(a.provider, a.action) for a in resp.attempts] == [(self.names[0], "answered")]
        chunks = list(setup.router.stream(self.ask()))
        assert "".join(c.text for c in chunks) == expected
        assert chunks[-1].usage is not None and chunks[-1].usage.output_tokens > 0
        assert len(setup.main.requests) == 2 and not setup.backup.requests

    def test_429_is_retried(self, setup: PairSetup) -> None:
        setup.main.push(self.rate_limit_fault())
        resp = setup.router.chat(self.ask())
        assert resp.provider == self.names[0]
        assert [(a.error, a.action) for a in resp.attempts] == [
            ("RateLimitError", "retried"), (None, "answered")]
        assert setup.sleeps.waits and setup.sleeps.waits[0] >= self.min_retry_wait

    def test_falls_back_to_the_other_standin(self, setup: PairSetup) -> None:
        setup.main.push(Fault.status(500), Fault.status(500))
        resp = setup.router.chat(self.ask())
        assert resp.provider == self.names[1]
        assert [a.error for a in resp.attempts] == ["ServerError", "ServerError", None]
        assert resp.attempts[1].action == "fell_back" and len(setup.backup.requests) == 1

    def test_calls_leave_no_reference_cycle(self, setup: PairSetup) -> None:
        """Answered, streamed, retried after a 429, fallen back after two 500s: with the
        collector off, one collection then frees no object of polyroute's or the
        plugin's (a cycle left per call would be at least one per call)."""

        def answered() -> None:
            setup.router.chat(self.ask())

        def streamed() -> None:
            list(setup.router.stream(self.ask()))

        def retried() -> None:
            setup.main.push(self.rate_limit_fault())
            setup.router.chat(self.ask())

        def fell_back() -> None:
            setup.main.push(Fault.status(500), Fault.status(500))
            setup.router.chat(self.ask())

        for scenario in (answered, streamed, retried, fell_back):
            self._assert_no_cycle(scenario.__name__, left_in_cycles(scenario, calls=20))

    def test_async_calls_leave_no_reference_cycle(self, setup: PairSetup) -> None:
        """The same over the async transport (aiohttp), on one event loop."""
        router = setup.router

        async def answered() -> None:
            await router.achat(self.ask())

        async def streamed() -> None:
            async for _ in router.astream(self.ask()):
                pass

        async def retried() -> None:
            setup.main.push(self.rate_limit_fault())
            await router.achat(self.ask())

        async def fell_back() -> None:
            setup.main.push(Fault.status(500), Fault.status(500))
            await router.achat(self.ask())

        loop = asyncio.new_event_loop()
        try:
            for scenario in (answered, streamed, retried, fell_back):
                left = left_in_cycles(scenario, calls=20, loop=loop)
                self._assert_no_cycle(f"async {scenario.__name__}", left)
        finally:
            loop.run_until_complete(router.aclose())
            loop.close()

    @staticmethod
    def _assert_no_cycle(name: str, left: Counter[str]) -> None:
        assert sum(left.values()) < 10, (
            f"{name}: a collection freed {sum(left.values())} objects of polyroute's or "
            f"the plugin's after 20 calls: {left.most_common(8)}")
