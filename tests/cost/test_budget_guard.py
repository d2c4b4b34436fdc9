"""Budgets: calendar windows, block / downgrade / warn, reserve-settle-release, alerts."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from polyroute.analytics.alerts import Alert, alerts_for
from polyroute.budgets.guard import CostGuard
from polyroute.budgets.windows import window_at, zone
from polyroute.cost.wiring import find_guard
from polyroute.errors import BudgetExceeded, NoRouteError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import ChatRequest, GenerationParams, Message, RoutingHints

# echo answers "<name> says: hi" → 3 input, 3 output tokens. At $1000/MTok in and
# out, an answered call costs $0.006; with max_tokens=10 a reservation is at most
# (prompt estimate + 10) * $0.001.
PRICE = {"input": 1000.0, "output": 1000.0}
CALL_COST = 0.006


def make_router(registry: PluginRegistry, url: str, budgets: list[dict[str, Any]],
                **extra: Any) -> Router:
    cfg: dict[str, Any] = {
        "providers": {"a": {"type": "echo", "base_url": url},
                      "cheap": {"type": "echo", "base_url": url}},
        "agents": {"bot": {"model": "a:m", "fallbacks": ["cheap:m"], "tags": {"team": "x"}}},
        "pricing": {"overrides": {"a:m": PRICE, "cheap:m": {"input": 100.0, "output": 100.0}}},
        "retry": {"attempts": 1},
        "budgets": budgets,
    }
    cfg.update(extra)
    return Router(cfg, registry=registry)


def ask(max_tokens: int = 10, **routing: Any) -> ChatRequest:
    return ChatRequest(messages=[Message.user("hi")],
                       params=GenerationParams(max_tokens=max_tokens),
                       routing=RoutingHints(agent="bot", **routing))


def spent(router: Router, scope: str, per: str = "day") -> float:
    guard = find_guard(router, CostGuard)
    assert isinstance(guard, CostGuard)
    b = next(b for b in guard.budgets if b.cfg.scope == scope and b.cfg.per == per)
    key = b.key(b.window()) if b.clock is not None else ""
    return float(router.state.get(key) or 0.0)


# --- windows -------------------------------------------------------------------------


def test_windows_are_calendar_aligned_in_the_configured_zone() -> None:
    paris = ZoneInfo("Europe/Paris")
    # 2026-03-29 00:30 UTC is 01:30 in Paris, the night clocks go forward
    now = datetime(2026, 3, 29, 0, 30, tzinfo=ZoneInfo("UTC")).timestamp()
    day = window_at("day", paris, now)
    assert day.id == "day:2026-03-29"
    assert day.end is not None and day.end - day.start == 23 * 3600  # a 23-hour day
    assert window_at("day", zone("UTC"), now).id == "day:2026-03-29"
    week = window_at("week", paris, now)
    assert week.id == "week:2026-W13"
    assert datetime.fromtimestamp(week.start, paris).strftime("%a %H:%M") == "Mon 00:00"
    month = window_at("month", paris, now)
    assert month.id == "month:2026-03" and month.resets_at == "2026-03-31T22:00:00+00:00"
    dec = window_at("month", zone("UTC"), datetime(2026, 12, 31, 23, 0,
                                                    tzinfo=ZoneInfo("UTC")).timestamp())
    assert dec.resets_at == "2027-01-01T00:00:00+00:00"
    assert window_at("hour", paris, now).id == "hour:2026-03-29T01"
    assert window_at("total", paris, now).end is None
    with pytest.raises(ValueError, match="unknown time zone"):
        zone("Mars/Olympus")


# --- block ---------------------------------------------------------------------------------


def test_block_raises_budget_exceeded_naming_scope_spent_limit_and_reset(
    echo_registry: PluginRegistry, primary: StandinServer
) -> None:
    budgets = [{"scope": "global", "usd": 0.03, "per": "day", "timezone": "Europe/Paris"}]
    with make_router(echo_registry, primary.url, budgets,
                     agents={"bot": {"model": "a:m"}}) as router:
        answered = 0
        with pytest.raises(BudgetExceeded) as info:
            for _ in range(10):
                router.chat(ask())
                answered += 1
    err = info.value
    # $0.006 each; a reservation is $0.018 (8 prompt tokens estimated + 10 max output)
    assert answered == 3
    assert err.scope == "global/day" and err.limit_usd == 0.03
    assert err.spent_usd == pytest.approx(3 * CALL_COST)
    assert err.resets_at is not None and err.resets_at.endswith("+00:00")
    assert "budget 'global/day' exceeded" in str(err) and "resets at" in str(err)


def test_scopes_provider_model_agent_and_tag(
    echo_registry: PluginRegistry, primary: StandinServer
) -> None:
    budgets = [
        {"scope": "provider:a", "usd": 1, "per": "hour"},
        {"scope": "model:a:m", "usd": 1, "per": "week"},
        {"scope": "agent:bot", "usd": 1, "per": "month"},
        {"scope": "tag:team=x", "usd": 1, "per": "total"},
        {"scope": "tag:team=y", "usd": 1, "per": "total"},
        {"scope": "provider:cheap", "usd": 1, "per": "day"},
    ]
    with make_router(echo_registry, primary.url, budgets) as router:
        router.chat(ask())
        for scope, per in [("provider:a", "hour"), ("model:a:m", "week"),
                           ("agent:bot", "month"), ("tag:team=x", "total")]:
            assert spent(router, scope, per) == pytest.approx(CALL_COST), scope
        assert spent(router, "tag:team=y", "total") == 0
        assert spent(router, "provider:cheap") == 0


def test_per_request_budget_and_max_cost_hint(
    echo_registry: PluginRegistry, primary: StandinServer
) -> None:
    budgets = [{"scope": "agent:bot", "usd": 0.05, "per": "request"}]
    with make_router(echo_registry, primary.url, budgets) as router:
        assert router.chat(ask(max_tokens=10)).provider == "a"
        with pytest.raises(BudgetExceeded, match="agent:bot/request"):
            router.chat(ask(max_tokens=1000))  # worst case $1 on a, $0.1 on cheap
        with pytest.raises(BudgetExceeded, match="max_cost"):
            router.chat(ask(max_cost_usd=0.001))


# --- downgrade and warn ----------------------------------------------------------------------


def test_downgrade_routes_to_the_cheapest_candidate(
    echo_registry: PluginRegistry, primary: StandinServer
) -> None:
    budgets = [{"scope": "global", "usd": 0.03, "per": "day", "on_exceed": "downgrade"}]
    with make_router(echo_registry, primary.url, budgets) as router:
        providers = [router.chat(ask()).provider for _ in range(6)]
        assert providers[:3] == ["a", "a", "a"] and set(providers[3:]) == {"cheap"}
        err = router.plan(ask())  # planning is unaffected: the guard acts per attempt
        assert err.candidates


def test_warn_lets_calls_through_and_alerts(
    echo_registry: PluginRegistry, primary: StandinServer
) -> None:
    budgets = [{"scope": "global", "usd": 0.01, "per": "day", "on_exceed": "warn"}]
    with make_router(echo_registry, primary.url, budgets) as router:
        got: list[Alert] = []
        alerts_for(router).add_sink(got.append)
        for _ in range(4):
            assert router.chat(ask()).provider == "a"
        assert spent(router, "global") == pytest.approx(4 * CALL_COST)
    kinds = [a.kind for a in got]
    assert kinds.count("budget_exceeded") == 1  # once per window


# --- reserve / settle / release -----------------------------------------------------------------


def test_failed_attempts_release_their_reservation(
    echo_registry: PluginRegistry, primary: StandinServer
) -> None:
    budgets = [{"scope": "provider:a", "usd": 1, "per": "day"}]
    with make_router(echo_registry, primary.url, budgets) as router:
        primary.push(Fault.status(500))
        resp = router.chat(ask())
        assert resp.provider == "cheap"
        assert spent(router, "provider:a") == 0.0
        with pytest.raises(NoRouteError):
            primary.push(Fault.status(500), Fault.status(500))
            router.chat(ask())
        assert spent(router, "provider:a") == 0.0


def test_threshold_alerts_fire_once_each(
    echo_registry: PluginRegistry, primary: StandinServer
) -> None:
    budgets = [{"scope": "global", "usd": 0.03, "per": "day", "on_exceed": "warn",
                "alerts": [0.5, 0.8, 1.0]}]
    with make_router(echo_registry, primary.url, budgets) as router:
        got: list[Alert] = []
        alerts_for(router).add_sink(got.append)
        for _ in range(7):
            router.chat(ask())
    thresholds = [a.data["threshold"] for a in got if a.kind == "budget_threshold"]
    assert thresholds == [0.5, 0.8, 1.0]
    assert all(a.subject == "global/day" for a in got)


def test_threads_and_tasks_never_overspend(
    echo_registry: PluginRegistry, primary: StandinServer
) -> None:
    limit = 0.1
    budgets = [{"scope": "global", "usd": limit, "per": "total"}]
    with make_router(echo_registry, primary.url, budgets,
                     agents={"bot": {"model": "a:m"}}) as router:
        ok: list[float] = []
        lock = threading.Lock()

        def worker() -> None:
            for _ in range(10):
                try:
                    cost = router.chat(ask()).cost_usd or 0.0
                except BudgetExceeded:
                    continue
                with lock:
                    ok.append(cost)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

        async def tasks() -> list[Any]:
            return await asyncio.gather(*(router.achat(ask()) for _ in range(20)),
                                        return_exceptions=True)

        extra = [r for r in asyncio.run(tasks()) if not isinstance(r, BaseException)]
        total = sum(ok) + sum(r.cost_usd or 0.0 for r in extra)
        assert total <= limit + 1e-9
        assert spent(router, "global", "total") == pytest.approx(total)
        # refused only when the next worst-case reservation ($0.018) would not fit
        assert total > limit - 0.018
