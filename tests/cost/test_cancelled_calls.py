"""A call cancelled or interrupted mid-attempt loses nothing (issue 9 follow-up).

Task cancelled, a timeout around ``achat``/``ainvoke``, ``KeyboardInterrupt``, a
stream closed early: every budget hold ends as spent (never left reserved), the
breaker, cooldown and health do not count the caller leaving as a provider failure,
and the usage ledger gets the call's row with its attempts so far.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from polyroute.budgets.guard import CostGuard
from polyroute.cost.wiring import find_guard
from polyroute.ledger import connect_ledger
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.routing.guards import Guard
from polyroute.routing.plan import Deployment
from polyroute.testing.standin import Fault, StandinServer
from polyroute.transport import HttpRequest, HttpResponse, Timeouts, Transport
from polyroute.types import (
    Attempt,
    ChatRequest,
    ChatResponse,
    GenerationParams,
    Message,
    RoutingHints,
)

A = Deployment("a", "m")


class Trap(Transport):
    """The real transport, except for provider ``a`` while ``mode`` is set: ``interrupt``
    raises ``KeyboardInterrupt`` (Ctrl-C mid-send), ``hang`` never answers (only a
    cancellation ends it). ``entered`` is set once a trapped send is under way."""

    def __init__(self) -> None:
        super().__init__()
        self.mode: str | None = None
        self.entered: asyncio.Event | None = None

    def _trap(self, provider: str) -> bool:
        return self.mode is not None and provider == "a"

    def send(self, req: HttpRequest, timeouts: Timeouts, *, provider: str, model: str,
             remaining: float | None = None) -> HttpResponse:
        if self._trap(provider):
            raise KeyboardInterrupt
        return super().send(req, timeouts, provider=provider, model=model, remaining=remaining)

    async def asend(self, req: HttpRequest, timeouts: Timeouts, *, provider: str, model: str,
                    remaining: float | None = None) -> HttpResponse:
        if self._trap(provider):
            if self.mode == "interrupt":
                raise KeyboardInterrupt
            if self.entered is not None:
                self.entered.set()
            await asyncio.Event().wait()  # never set
        return await super().asend(req, timeouts, provider=provider, model=model,
                                   remaining=remaining)


PRICE = {"input": 1000.0, "output": 1000.0}


def make_router(registry: PluginRegistry, a: str, b: str, db: Path | None, *,
                trap: Trap | None = None, **extra: Any) -> Router:
    cfg: dict[str, Any] = {
        "providers": {"a": {"type": "echo", "base_url": a},
                      "b": {"type": "echo", "base_url": b}},
        # temperature: the router calls with its own params-merged copy of each request
        "agents": {"bot": {"model": "a:m", "fallbacks": ["b:m"], "temperature": 0.2}},
        "pricing": {"overrides": {"a:m": PRICE, "b:m": PRICE}},
        "retry": {"attempts": 1},
        "budgets": [{"scope": "global", "usd": 100, "per": "day"},
                    {"scope": "provider:a", "usd": 100, "per": "total"}],
    }
    if db is not None:
        cfg["ledger"] = {"path": str(db)}
    cfg.update(extra)
    return Router(cfg, registry=registry, transport=trap or Trap())


def ask(text: str = "hi", **tags: str) -> ChatRequest:
    return ChatRequest(messages=[Message.user(text)], params=GenerationParams(max_tokens=10),
                       routing=RoutingHints(agent="bot", tags=tags))


def held(router: Router) -> dict[str, tuple[float, float]]:
    """Per budget: (spent, still reserved)."""
    guard = find_guard(router, CostGuard)
    assert isinstance(guard, CostGuard)
    out = {}
    for b in guard.budgets:
        key = b.key(b.window())
        total = router.state.number(key)
        spent = router.state.number(key + ":spent")
        out[b.cfg.scope] = (spent, total - spent)
    return out


def assert_hold_kept_as_spent(router: Router, *scopes: str) -> None:
    for scope, (spent, reserved) in held(router).items():
        if scope in scopes:
            assert spent > 0, f"{scope}: the interrupted attempt's hold was not counted"
        assert reserved == pytest.approx(0.0, abs=1e-12), f"{scope}: ${reserved} left reserved"


def ledger_rows(router: Router, db: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    guard = find_guard(router, CostGuard)
    assert isinstance(guard, CostGuard) and guard.ledger is not None
    assert guard.ledger.flush()
    conn = connect_ledger(db, create=False)
    conn.row_factory = sqlite3.Row
    try:
        calls = [dict(r) for r in conn.execute("SELECT * FROM calls ORDER BY rowid")]
        attempts = [dict(r) for r in conn.execute("SELECT * FROM attempts ORDER BY rowid")]
    finally:
        conn.close()
    return calls, attempts


def busy(router: Router, dep: Deployment = A) -> float:
    return router.state.number(f"h:{dep.key}:busy")


# --- sync: KeyboardInterrupt mid-send -------------------------------------------------


def test_keyboard_interrupt_mid_attempt_settles_budgets_and_lands_in_the_ledger(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    tmp_path: Path,
) -> None:
    db = tmp_path / "usage.db"
    trap = Trap()
    with make_router(echo_registry, primary.url, secondary.url, db, trap=trap) as router:
        trap.mode = "interrupt"
        with pytest.raises(KeyboardInterrupt):
            router.chat(ask(tenant="t1"))
        assert_hold_kept_as_spent(router, "global", "provider:a")
        assert busy(router) == 0  # health's in-flight count is back
        calls, attempts = ledger_rows(router, db)
        assert [(c["status"], c["error"], c["attempts"], c["provider"], c["tenant"])
                for c in calls] == [("interrupted", "KeyboardInterrupt", 1, "a", "t1")]
        assert calls[0]["cost_usd"] is None and calls[0]["price_known"] == 0  # unknown
        assert [(a["provider"], a["ok"], a["error"]) for a in attempts] == [
            ("a", 0, "KeyboardInterrupt")]
        # the router goes on working, and the next answer settles as usual
        trap.mode = None
        before = held(router)["global"][0]
        assert router.chat(ask()).provider == "a"
        assert held(router)["global"][0] == pytest.approx(before + 0.006)
        assert held(router)["global"][1] == pytest.approx(0.0, abs=1e-12)


def test_a_per_total_budget_is_never_left_reserved(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
) -> None:
    trap = Trap()
    with make_router(echo_registry, primary.url, secondary.url, None, trap=trap) as router:
        trap.mode = "interrupt"
        for _ in range(3):
            with pytest.raises(KeyboardInterrupt):
                router.chat(ask())
        spent, reserved = held(router)["provider:a"]
        assert reserved == pytest.approx(0.0, abs=1e-12) and spent > 0
        guard = find_guard(router, CostGuard)
        assert isinstance(guard, CostGuard) and not guard._calls  # no ledger: no records


# --- async: task.cancel(), asyncio.timeout ----------------------------------------------


async def test_task_cancel_mid_attempt_settles_and_lands_in_the_ledger(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    tmp_path: Path,
) -> None:
    db = tmp_path / "usage.db"
    trap = Trap()
    async with make_router(echo_registry, primary.url, secondary.url, db, trap=trap) as router:
        trap.mode, trap.entered = "hang", asyncio.Event()
        task = asyncio.create_task(router.achat(ask()))
        await trap.entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert_hold_kept_as_spent(router, "global", "provider:a")
        assert busy(router) == 0
        calls, attempts = ledger_rows(router, db)
        assert [(c["status"], c["error"], c["attempts"]) for c in calls] == [
            ("cancelled", "CancelledError", 1)]
        assert [(a["ok"], a["error"]) for a in attempts] == [(0, "CancelledError")]


async def test_asyncio_timeout_around_achat_keeps_the_attempts_made_so_far(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    tmp_path: Path,
) -> None:
    """b fails with a 500, the call falls back to a, which hangs until the caller's
    timeout: the row has both attempts."""
    db = tmp_path / "usage.db"
    trap = Trap()
    cfg = {"agents": {"bot": {"model": "b:m", "fallbacks": ["a:m"], "temperature": 0.2}}}
    async with make_router(echo_registry, primary.url, secondary.url, db, trap=trap,
                           **cfg) as router:
        secondary.push(Fault.status(500))
        trap.mode, trap.entered = "hang", asyncio.Event()
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(None) as deadline:
                call = asyncio.ensure_future(router.achat(ask()))
                await trap.entered.wait()
                deadline.reschedule(asyncio.get_running_loop().time())  # time's up, now
                await call
        assert_hold_kept_as_spent(router, "global", "provider:a")
        calls, attempts = ledger_rows(router, db)
        assert [(c["status"], c["attempts"], c["fallback"], c["provider"]) for c in calls] == [
            ("cancelled", 2, 1, "a")]
        assert [(a["provider"], a["ok"], a["error"], a["http_status"]) for a in attempts] == [
            ("b", 0, "ServerError", 500), ("a", 0, "CancelledError", None)]


async def test_routed_chat_model_ainvoke_under_wait_for(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    tmp_path: Path,
) -> None:
    from polyroute.langchain import RoutedChatModel

    db = tmp_path / "usage.db"
    trap = Trap()
    async with make_router(echo_registry, primary.url, secondary.url, db, trap=trap) as router:
        llm = RoutedChatModel(router=router, agent="bot", max_tokens=10)
        assert (await llm.ainvoke("hi")).content  # warm: the timeout below only meets a hang
        trap.mode = "hang"
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(llm.ainvoke("hi"), timeout=1.0)
        assert_hold_kept_as_spent(router, "global", "provider:a")
        assert busy(router) == 0
        calls, _ = ledger_rows(router, db)
        assert [(c["status"], c["error"]) for c in calls] == [
            ("ok", None), ("cancelled", "CancelledError")]


# --- streams closed early ---------------------------------------------------------------


def test_stream_closed_mid_way_keeps_the_hold_and_lands_in_the_ledger(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    tmp_path: Path,
) -> None:
    db = tmp_path / "usage.db"
    with make_router(echo_registry, primary.url, secondary.url, db) as router:
        chunks = router.stream(ask("one two three four"))
        assert next(chunks).text  # content is flowing; the usage comes last
        chunks.close()
        # no usage came back: the worst case stays spent, nothing stays reserved
        assert_hold_kept_as_spent(router, "global", "provider:a")
        assert busy(router) == 0
        calls, attempts = ledger_rows(router, db)
        assert [(c["status"], c["error"], c["stream"], c["attempts"]) for c in calls] == [
            ("cancelled", "GeneratorExit", 1, 1)]
        assert [(a["provider"], a["ok"]) for a in attempts] == [("a", 1)]


async def test_astream_cancelled_while_waiting_for_a_chunk(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    tmp_path: Path,
) -> None:
    db = tmp_path / "usage.db"
    async with make_router(echo_registry, primary.url, secondary.url, db) as router:
        primary.push(Fault.stall(after_chunks=1, seconds=60))
        first = asyncio.Event()

        async def read() -> None:
            async for chunk in router.astream(ask("one two three")):
                if chunk.text:
                    first.set()

        task = asyncio.create_task(read())
        await first.wait()  # the next chunk stalls: the task waits inside the stream
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert_hold_kept_as_spent(router, "global", "provider:a")
        assert busy(router) == 0
        calls, _ = ledger_rows(router, db)
        assert [(c["status"], c["error"], c["stream"]) for c in calls] == [
            ("cancelled", "CancelledError", 1)]


async def test_astream_closed_early(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    tmp_path: Path,
) -> None:
    db = tmp_path / "usage.db"
    async with make_router(echo_registry, primary.url, secondary.url, db) as router:
        stream = router.astream(ask("one two three"))
        assert (await anext(stream)).text
        await stream.aclose()  # type: ignore[attr-defined]
        assert_hold_kept_as_spent(router, "global", "provider:a")
        calls, _ = ledger_rows(router, db)
        assert [(c["status"], c["stream"]) for c in calls] == [("cancelled", 1)]


# --- breaker, cooldown: the caller leaving is not a provider failure --------------------


def test_cancellation_is_no_breaker_or_cooldown_failure_and_frees_a_half_open_probe(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
) -> None:
    now = [1000.0]
    trap = Trap()
    router = Router({
        "providers": {"a": {"type": "echo", "base_url": primary.url},
                      "b": {"type": "echo", "base_url": secondary.url}},
        "agents": {"bot": {"model": "a:m", "fallbacks": ["b:m"]}},
        "retry": {"attempts": 1},
        "breaker": {"failures": 1, "cooldown": 10, "failure_ratio": None},
        "rate_limits": {"cooldown": {"after": 1}},
    }, registry=echo_registry, transport=trap, clock=lambda: now[0])
    with router:
        breaker, cooldown = router.resilience.breaker, router.resilience.cooldown
        assert breaker is not None and cooldown is not None
        trap.mode = "interrupt"
        for _ in range(3):
            with pytest.raises(KeyboardInterrupt):
                router.chat(ask())
        assert breaker.state(A) == "closed"  # a single counted failure would open it
        assert cooldown.info(A)["in_a_row"] == 0 and cooldown.info(A)["cooling_for_s"] == 0
        # a real failure opens it; past the cooldown one probe may go through
        trap.mode = None
        primary.push(Fault.status(500))
        assert router.chat(ask()).provider == "b"
        assert breaker.state(A) == "open"
        now[0] += 11
        trap.mode = "interrupt"
        with pytest.raises(KeyboardInterrupt):
            router.chat(ask())  # the probe is interrupted: no verdict on a
        assert breaker.state(A) == "half_open"
        trap.mode = None
        answer = router.chat(ask())  # the probe slot was given back: a is probed again
        assert answer.provider == "a"
        assert breaker.state(A) == "closed"


# --- attacks --------------------------------------------------------------------------


class Broken(Guard):
    name = "broken"

    def attempt_interrupted(self, dep: Deployment, request: ChatRequest, ticket: Any,
                            attempt: Attempt, response: ChatResponse | None) -> None:
        raise RuntimeError("a guard bug")


async def test_a_guard_failing_on_the_interruption_does_not_hide_the_cancellation(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    tmp_path: Path,
) -> None:
    db = tmp_path / "usage.db"
    trap = Trap()
    cfg: dict[str, Any] = {
        "providers": {"a": {"type": "echo", "base_url": primary.url}},
        "pricing": {"overrides": {"a:m": PRICE}},
        "budgets": [{"scope": "global", "usd": 100, "per": "day"}],
        "ledger": {"path": str(db)},
    }
    async with Router(cfg, registry=echo_registry, transport=trap,
                      guards=[Broken()]) as router:
        trap.mode, trap.entered = "hang", asyncio.Event()
        task = asyncio.create_task(router.achat(ChatRequest(
            messages=[Message.user("hi")], params=GenerationParams(max_tokens=10),
            routing=RoutingHints(model="a:m"))))
        await trap.entered.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert_hold_kept_as_spent(router, "global")
        calls, _ = ledger_rows(router, db)
        assert [c["status"] for c in calls] == ["cancelled"]


async def test_concurrent_calls_sharing_one_message_list_keep_their_own_rows(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    tmp_path: Path,
) -> None:
    """Two tenants send the same messages at once; one is cancelled, one answers."""
    db = tmp_path / "usage.db"
    trap = Trap()
    async with make_router(echo_registry, primary.url, secondary.url, db, trap=trap,
                           agents={"bot": {"model": "a:m", "temperature": 0.2},
                                   "other": {"model": "b:m", "temperature": 0.2}}) as router:
        messages = [Message.user("hi")]
        hanging = ChatRequest(messages=messages, params=GenerationParams(max_tokens=10),
                              routing=RoutingHints(agent="bot", tags={"tenant": "t1"}))
        answered = ChatRequest(messages=messages, params=GenerationParams(max_tokens=10),
                               routing=RoutingHints(agent="other", tags={"tenant": "t2"}))
        trap.mode, trap.entered = "hang", asyncio.Event()
        task = asyncio.create_task(router.achat(hanging))
        await trap.entered.wait()
        assert (await router.achat(answered)).provider == "b"
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        calls, _ = ledger_rows(router, db)
        assert sorted((c["tenant"], c["status"], c["provider"]) for c in calls) == [
            ("t1", "cancelled", "a"), ("t2", "ok", "b")]


class FailsOnB(Guard):
    """A guard whose own bug escapes the router on the second candidate."""

    name = "fails-on-b"

    def before_attempt(self, dep: Deployment, request: ChatRequest) -> Any:
        if dep.provider == "b":
            raise RuntimeError("guard bug")
        return None


def test_an_error_no_guard_saw_after_an_attempt_still_gets_its_row(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    tmp_path: Path,
) -> None:
    db = tmp_path / "usage.db"
    cfg: dict[str, Any] = {
        "providers": {"a": {"type": "echo", "base_url": primary.url},
                      "b": {"type": "echo", "base_url": secondary.url}},
        "agents": {"bot": {"model": "a:m", "fallbacks": ["b:m"], "temperature": 0.2}},
        "pricing": {"overrides": {"a:m": PRICE, "b:m": PRICE}},
        "retry": {"attempts": 1},
        "ledger": {"path": str(db)},
    }
    with Router(cfg, registry=echo_registry, guards=[FailsOnB()]) as router:
        primary.push(Fault.status(500))
        with pytest.raises(RuntimeError, match="guard bug"):
            router.chat(ask())
        calls, attempts = ledger_rows(router, db)
        assert [(c["status"], c["error"], c["attempts"]) for c in calls] == [
            ("error", "RuntimeError", 1)]
        assert [(a["provider"], a["error"]) for a in attempts] == [("a", "ServerError")]


async def test_cancelled_while_waiting_to_retry_keeps_the_failed_attempt(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    tmp_path: Path,
) -> None:
    """Between attempts nothing is held: the failed attempt released its hold, and the
    row still tells of it."""
    db = tmp_path / "usage.db"
    waiting = asyncio.Event()

    async def backoff(seconds: float) -> None:
        waiting.set()
        await asyncio.Event().wait()  # the retry's wait: only a cancellation ends it

    cfg: dict[str, Any] = {
        "providers": {"a": {"type": "echo", "base_url": primary.url}},
        "agents": {"bot": {"model": "a:m", "temperature": 0.2}},
        "pricing": {"overrides": {"a:m": PRICE}},
        "retry": {"attempts": 3},
        "budgets": [{"scope": "global", "usd": 100, "per": "day"}],
        "ledger": {"path": str(db)},
    }
    async with Router(cfg, registry=echo_registry, asleep=backoff) as router:
        primary.push(Fault.status(500))
        task = asyncio.create_task(router.achat(ask()))
        await waiting.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert held(router)["global"] == (0.0, 0.0)
        calls, attempts = ledger_rows(router, db)
        assert [(c["status"], c["error"], c["attempts"]) for c in calls] == [
            ("cancelled", "CancelledError", 1)]
        assert [(a["ok"], a["error"], a["action"]) for a in attempts] == [
            (0, "ServerError", "retried")]
