"""Guards take part in every call at fixed points; the router knows nothing else of them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from polyroute.errors import BudgetExceeded, NoRouteError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.routing.guards import CandidateSkipped, Guard
from polyroute.routing.plan import Deployment
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import Attempt, ChatRequest, ChatResponse, Message, RoutingHints


class Recorder(Guard):
    def __init__(self, skip: set[str] = frozenset(), refuse: set[str] = frozenset(),  # type: ignore[assignment]
                 error: Exception | None = None) -> None:
        self.events: list[tuple[str, str]] = []
        self.skip, self.refuse, self.error = skip, refuse, error
        self.usage_seen: list[int] = []

    def skip_reason(self, dep: Deployment, request: ChatRequest) -> str | None:
        return "circuit open" if dep.provider in self.skip else None

    def before_attempt(self, dep: Deployment, request: ChatRequest) -> Any:
        if dep.provider in self.refuse:
            raise CandidateSkipped("over budget", self.error)  # type: ignore[arg-type]
        self.events.append(("before", dep.provider))
        return f"ticket-{dep.provider}"

    def cancel_attempt(self, dep: Deployment, request: ChatRequest, ticket: Any) -> None:
        self.events.append(("cancel", ticket))

    def after_attempt(self, dep: Deployment, request: ChatRequest, ticket: Any,
                      attempt: Attempt, response: ChatResponse | None) -> None:
        self.events.append(("after", f"{ticket}:{'ok' if attempt.ok else attempt.error}"))
        if response is not None:
            self.usage_seen.append(response.usage.output_tokens)

    def after_call(self, request: ChatRequest, response: ChatResponse) -> None:
        self.events.append(("answered", response.provider))

    def call_failed(self, request: ChatRequest, error: Exception) -> None:
        self.events.append(("failed", type(error).__name__))


class Refuser(Guard):
    def before_attempt(self, dep: Deployment, request: ChatRequest) -> Any:
        raise CandidateSkipped("rate limited")


class FixedCache(Guard):
    def before_call(self, request: ChatRequest) -> ChatResponse | None:
        return ChatResponse(message=Message.assistant("from cache"), provider="cache",
                            model="m", cache_hit=True)


@pytest.fixture
def servers(primary: StandinServer, secondary: StandinServer) -> Iterator[tuple[str, str]]:
    yield primary.url, secondary.url


def router_with(registry: PluginRegistry, urls: tuple[str, str], *guards: Guard) -> Router:
    return Router({
        "providers": {"a": {"type": "echo", "base_url": urls[0]},
                      "b": {"type": "echo", "base_url": urls[1]}},
        "agents": {"bot": {"model": "a:m", "fallbacks": ["b:m"]}},
        "retry": {"attempts": 1},
    }, registry=registry, guards=guards)


def ask() -> ChatRequest:
    return ChatRequest(messages=[Message.user("hi")], routing=RoutingHints(agent="bot"))


def test_guard_sees_each_attempt_and_the_answer(echo_registry, servers, primary) -> None:  # type: ignore[no-untyped-def]
    g = Recorder()
    primary.push(Fault.status(500))
    with router_with(echo_registry, servers, g) as router:
        resp = router.chat(ask())
    assert resp.provider == "b"
    assert g.events == [
        ("before", "a"), ("after", "ticket-a:ServerError"),
        ("before", "b"), ("after", "ticket-b:ok"), ("answered", "b"),
    ]


def test_skip_reason_filters_before_planning(echo_registry, servers) -> None:  # type: ignore[no-untyped-def]
    with router_with(echo_registry, servers, Recorder(skip={"a"})) as router:
        plan = router.plan(ask())
        assert [o.reason for o in plan.skipped] == ["circuit open"]
        assert router.chat(ask()).provider == "b"


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_refusal_cancels_earlier_guards_and_moves_on(echo_registry, servers, mode) -> None:  # type: ignore[no-untyped-def]
    first = Recorder()

    class RefuseA(Guard):
        def before_attempt(self, dep: Deployment, request: ChatRequest) -> Any:
            if dep.provider == "a":
                raise CandidateSkipped("rate limited")

    with router_with(echo_registry, servers, first, RefuseA()) as router:
        resp = router.chat(ask()) if mode == "sync" else asyncio.run(router.achat(ask()))
    assert resp.provider == "b"
    assert first.events[:2] == [("before", "a"), ("cancel", "ticket-a")]
    assert [a.provider for a in resp.attempts] == ["b"]  # a skipped attempt is no attempt


def test_every_candidate_refused_with_an_error_raises_that_error(  # type: ignore[no-untyped-def]
    echo_registry, servers
) -> None:
    budget = BudgetExceeded("global", 10.0, 10.0)
    refusing = Recorder(refuse={"a", "b"}, error=budget)
    with router_with(echo_registry, servers, refusing) as router, pytest.raises(BudgetExceeded):
        router.chat(ask())
    with router_with(echo_registry, servers, Refuser()) as router, pytest.raises(
        NoRouteError, match="rate limited"
    ):
        router.chat(ask())


def test_stream_guards_get_usage_at_the_end(echo_registry, servers) -> None:  # type: ignore[no-untyped-def]
    g = Recorder()
    with router_with(echo_registry, servers, g) as router:
        chunks = list(router.stream(ask()))
    assert chunks[-1].usage is not None
    assert g.events[-2:] == [("after", "ticket-a:ok"), ("answered", "a")]
    assert g.usage_seen == [chunks[-1].usage.output_tokens]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_before_call_answers_without_a_provider_and_replays_as_stream(
    echo_registry, servers, primary, mode  # type: ignore[no-untyped-def]
) -> None:
    with router_with(echo_registry, servers, FixedCache()) as router:
        if mode == "sync":
            resp = router.chat(ask())
            chunks = list(router.stream(ask()))
        else:
            async def both() -> tuple[ChatResponse, list[Any]]:
                return await router.achat(ask()), [c async for c in router.astream(ask())]
            resp, chunks = asyncio.run(both())
    assert resp.cache_hit and resp.message.text == "from cache"
    assert "".join(c.text for c in chunks) == "from cache" and chunks[-1].cache_hit
    assert primary.requests == []


class BrokenStateAfter(Guard):
    """A guard whose state store turns out corrupt when it records the attempt."""

    def after_attempt(self, dep: Deployment, request: ChatRequest, ticket: Any,
                      attempt: Attempt, response: ChatResponse | None) -> None:
        from polyroute.errors import StateStoreError

        raise StateStoreError(f"key 'x:{dep}' holds 'abc'; delete it")


def test_an_answer_is_returned_when_recording_it_meets_a_corrupt_store(
    echo_registry: PluginRegistry, servers: tuple[str, str], caplog: pytest.LogCaptureFixture,
) -> None:
    rec = Recorder()
    with router_with(echo_registry, servers, BrokenStateAfter(), rec) as router:
        resp = router.chat(ChatRequest(messages=[Message.user("hi")],
                                       routing=RoutingHints(agent="bot")))
    assert resp.provider == "a"  # the paid-for answer is not thrown away
    assert ("after", "ticket-a:ok") in rec.events  # the guards after it still settled
    assert any("key 'x:a/m'" in r.getMessage() for r in caplog.records
               if r.levelname == "ERROR")


def test_a_failed_attempt_meeting_a_corrupt_store_fails_closed(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
) -> None:
    from polyroute.errors import StateStoreError

    primary.push(Fault.status(500))
    rec = Recorder()
    with (router_with(echo_registry, (primary.url, secondary.url), BrokenStateAfter(), rec)
          as router, pytest.raises(StateStoreError, match="x:a/m")):
        router.chat(ChatRequest(messages=[Message.user("hi")],
                                routing=RoutingHints(agent="bot")))
    assert any(e[0] == "after" for e in rec.events)  # every guard settled its own part
