"""Strategies: registry, each ordering, explanations in route --explain."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from resilience_helpers import FakeClock, ask

from polyroute.cli import main
from polyroute.routing.strategies import BUILTIN, priority
from polyroute.types import ModelInfo, ModelPrices


def tier_router(make_router: Any, strategy: str, **extra: Any) -> Any:
    return make_router(
        routes={"r": {"strategy": strategy, "tiers": [["primary/m1", "secondary/m2",
                                                       "primary/m3"]]}},
        agents={"bot": {"route": "r"}}, **extra,
    )


def order(router: Any) -> list[str]:
    return [d.key for d in router.plan(ask()).tiers[0]]


def test_registry_has_every_strategy(echo_registry) -> None:  # type: ignore[no-untyped-def]
    names = {c.name for c in BUILTIN}
    assert names == {"priority", "round_robin", "weighted", "least_latency", "lowest_cost",
                     "health", "lru", "least_busy", "score"}
    # the seam does not know them: the router hands the built-ins to its registry
    from polyroute.router import Router

    Router(registry=echo_registry).close()
    assert names <= set(echo_registry.strategies)
    assert [d for d in priority(["b", "a"], ask())] == ["b", "a"]  # type: ignore[arg-type]


def test_round_robin_rotates_and_explain_moves_nothing(make_router) -> None:  # type: ignore[no-untyped-def]
    router = tier_router(make_router, "round_robin")
    firsts = [order(router)[0] for _ in range(4)]
    assert firsts == ["primary/m1", "secondary/m2", "primary/m3", "primary/m1"]
    plan = router.plan(ask())
    explained = [r.dep.key for r in router.rankings(ask(), plan)[0]]
    assert explained == [d.key for d in plan.tiers[0]] == ["secondary/m2", "primary/m3",
                                                           "primary/m1"]
    assert router.rankings(ask(), plan)[0][0].why == "round robin turn 5: position 1"
    assert order(router)[0] == "primary/m3"  # explaining moved nothing


def test_weighted_draws_by_weight(make_router) -> None:  # type: ignore[no-untyped-def]
    router = tier_router(make_router, "weighted", strategies={
        "weights": {"primary/m1": 1, "secondary:m2": 8, "primary/m3": 1}})
    firsts = [order(router)[0] for _ in range(300)]
    assert firsts.count("secondary/m2") > 180
    why = {r.dep.key: r.why for r in router.rankings(ask())[0]}
    assert why["secondary/m2"].startswith("weight 8 of 10 (80%)")


def test_least_latency_health_lru_least_busy(make_router, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    router = tier_router(make_router, "least_latency")
    h = router.health
    h.record("primary/m1", True, 900.0)
    h.record("secondary/m2", True, 100.0)
    assert order(router) == ["primary/m3", "secondary/m2", "primary/m1"]  # unmeasured first
    assert "latency EWMA 100 ms" in router.rankings(ask())[0][1].why
    for _ in range(5):
        h.record("secondary/m2", False, 0)
    health = tier_router(make_router, "health")
    health.health.record("secondary/m2", False, 0)
    assert order(health)[-1] == "secondary/m2"
    lru = tier_router(make_router, "lru")
    lru.chat(ask())  # uses primary/m1
    clock.advance(1)
    assert order(lru)[-1] == "primary/m1" and order(lru)[0] == "secondary/m2"
    busy = tier_router(make_router, "least_busy")
    busy.state.incr("h:primary/m1:busy", 2)
    busy.state.incr("h:secondary/m2:busy", 1)
    assert order(busy) == ["primary/m3", "secondary/m2", "primary/m1"]


@pytest.fixture
def priced(echo_registry, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    prices = {"m1": (5.0, 15.0), "m2": (0.1, 0.4), "m3": (1.0, 2.0)}

    def info(self, dep):  # type: ignore[no-untyped-def]
        p = prices.get(dep.model)
        return ModelInfo(provider_type="echo", model=dep.model,
                         prices=ModelPrices(input=p[0], output=p[1]) if p else ModelPrices(),
                         capabilities=frozenset())

    from polyroute.router import Router

    monkeypatch.setattr(Router, "model_info", info)


def test_lowest_cost_and_score(make_router, priced) -> None:  # type: ignore[no-untyped-def]
    router = tier_router(make_router, "lowest_cost")
    assert order(router) == ["secondary/m2", "primary/m3", "primary/m1"]
    assert router.rankings(ask())[0][0].why.startswith("~$")
    score = tier_router(make_router, "score", strategies={
        "quality": {"primary/m1": 1.0, "m2": 0.0},
        "score": {"cost": 0.2, "latency": 0, "quality": 0.8, "capability": 0}})
    ranked = score.rankings(ask())[0]
    assert ranked[0].dep.key == "primary/m1" and ranked[0].why.startswith("score ")
    assert ranked[0].score > ranked[-1].score


def test_route_explain_shows_score_and_why(tmp_path, echo_registry) -> None:  # type: ignore[no-untyped-def]


    cfg = tmp_path / "p.yaml"
    cfg.write_text(
        "providers: {a: {type: echo}, b: {type: echo}}\n"
        "routes: {r: {strategy: round_robin, tiers: [[a/x, b/y]]}}\n"
        "agents: {bot: {route: r}}\n"
    )
    result = CliRunner().invoke(main, ["-c", str(cfg), "route", "bot", "--explain"],
                                obj=echo_registry)
    assert result.exit_code == 0, result.output
    assert "why this rank" in result.output and "round robin turn" in result.output
    result = CliRunner().invoke(main, ["-c", str(cfg), "route", "bot", "--json"],
                                obj=echo_registry)
    assert '"why": "round robin turn' in result.output
