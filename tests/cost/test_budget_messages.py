"""What a budget tells the user (issue 9, items 4 and 5, and the settle defence):
spent vs reserved, the worst case and its basis, the fix; ``max_cost_usd`` is
never ignored; a bad cost never lowers a budget."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from polyroute.budgets.guard import CostGuard
from polyroute.cost.wiring import find_guard
from polyroute.errors import BudgetExceeded, RoutingError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.routing.plan import Deployment
from polyroute.testing.standin import StandinServer
from polyroute.types import (
    Attempt,
    ChatRequest,
    ChatResponse,
    GenerationParams,
    Message,
    RoutingHints,
    Usage,
)

PRICE = {"input": 1000.0, "output": 1000.0}
CALL_COST = 0.006  # echo: 3 in + 3 out at $1000/MTok
RESERVATION = 0.018  # 8 estimated prompt tokens + max_tokens 10


def _router(registry: PluginRegistry, url: str, **extra: Any) -> Router:
    cfg: dict[str, Any] = {
        "providers": {"a": {"type": "echo", "base_url": url}},
        "agents": {"bot": {"model": "a:m"}},
        "retry": {"attempts": 1},
    }
    cfg.update(extra)
    return Router(cfg, registry=registry)


def _ask(max_tokens: int | None = 10, **routing: Any) -> ChatRequest:
    return ChatRequest(messages=[Message.user("hi")],
                       params=GenerationParams(max_tokens=max_tokens),
                       routing=RoutingHints(agent="bot", **routing))


# --- item 4: the messages --------------------------------------------------------------------


def test_refusal_says_spent_vs_reserved_for_calls_in_flight(
    echo_registry: PluginRegistry, primary: StandinServer
) -> None:
    with _router(echo_registry, primary.url,
                 pricing={"overrides": {"a:m": PRICE}},
                 budgets=[{"scope": "global", "usd": 0.5, "per": "day"}]) as router:
        for _ in range(2):
            router.chat(_ask())
        guard = find_guard(router, CostGuard)
        assert isinstance(guard, CostGuard)
        b = guard.budgets[0]
        # calls in flight elsewhere (another process) hold $0.48 of the $0.50
        assert router.state.reserve(b.key(b.window()), 0.48, 0.5)
        with pytest.raises(BudgetExceeded) as info:
            router.chat(_ask())
    err = info.value
    assert err.spent_usd == pytest.approx(2 * CALL_COST)
    assert err.reserved_usd == pytest.approx(0.48)
    assert err.needed_usd == pytest.approx(RESERVATION)
    msg = str(err)
    assert "spent $0.0120 and $0.4800 reserved for calls in flight, of $0.5000" in msg
    assert "this call needs up to $0.0180" in msg
    assert "10 output tokens (max_tokens)" in msg and "resets at" in msg


def test_per_request_refusal_says_nothing_was_spent_and_to_set_max_tokens(
    echo_registry: PluginRegistry, primary: StandinServer
) -> None:
    with _router(echo_registry, primary.url,
                 models={"a:m": {"max_output_tokens": 32768, "prices": {"input": 2.0,
                                                                        "output": 8.0}}},
                 budgets=[{"scope": "agent:bot", "usd": 0.01, "per": "request"}]) as router:
        with pytest.raises(BudgetExceeded) as info:
            router.chat(_ask(max_tokens=None))
        assert router.chat(_ask(max_tokens=100)).provider == "a"  # the fix works
    err = info.value
    msg = str(err)
    assert err.spent_usd == 0 and err.needed_usd == pytest.approx((8 * 2 + 32768 * 8) / 1e6)
    assert "this call's worst case $0.2622 is over the $0.0100 limit per call" in msg
    assert "nothing was spent" in msg and "spent $" not in msg
    assert "32,768 output tokens (the model's max output)" in msg
    assert "set max_tokens" in msg


# --- item 5: max_cost_usd is never ignored ----------------------------------------------------

PRICED = {"models": {"a:m": {"prices": PRICE}}}  # a catalog price, no budgets/pricing section


def test_max_cost_applies_without_budgets_or_pricing_sections(
    echo_registry: PluginRegistry, primary: StandinServer
) -> None:
    with _router(echo_registry, primary.url, **PRICED) as router:
        with pytest.raises(BudgetExceeded, match="max_cost") as info:
            router.chat(_ask(max_cost_usd=0.001))
        assert info.value.needed_usd == pytest.approx(RESERVATION)
        assert router.chat(_ask(max_cost_usd=0.05)).provider == "a"
        assert router.chat(_ask()).provider == "a"
    assert len(primary.requests) == 2


def test_max_cost_without_a_known_price_is_refused_not_ignored(
    echo_registry: PluginRegistry, primary: StandinServer
) -> None:
    with (_router(echo_registry, primary.url) as router,
          pytest.raises(BudgetExceeded, match="no known price for a/m") as info):
        router.chat(_ask(max_cost_usd=1.0))
    assert "pricing.overrides['a:m']" in str(info.value)
    assert "cannot be checked" in str(info.value) and "spent $" not in str(info.value)
    assert primary.requests == []


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1.0])
def test_unusable_max_cost_is_a_typed_error(
    echo_registry: PluginRegistry, primary: StandinServer, bad: float
) -> None:
    for extra in (PRICED, {"pricing": {"overrides": {"a:m": PRICE}}}):
        with (_router(echo_registry, primary.url, **extra) as router,
              pytest.raises(RoutingError, match=r"max_cost_usd .* not a finite")):
            router.chat(_ask(max_cost_usd=bad))
    assert primary.requests == []


def test_max_cost_through_langchain_and_llamaindex(
    echo_registry: PluginRegistry, primary: StandinServer
) -> None:
    from polyroute.langchain import RoutedChatModel
    from polyroute.llamaindex import RoutedLLM

    with _router(echo_registry, primary.url, default="a/m", **PRICED) as router:
        with pytest.raises(BudgetExceeded, match="max_cost"):
            RoutedChatModel(router=router, max_cost_usd=0.001).invoke("hi")
        with pytest.raises(BudgetExceeded, match="max_cost"):
            RoutedChatModel(router=router).invoke("hi", max_cost_usd=0.001)
        with pytest.raises(BudgetExceeded, match="max_cost"):
            RoutedLLM(router=router, max_cost_usd=0.001).complete("hi")
        with pytest.raises(BudgetExceeded, match="max_cost"):
            RoutedLLM(router=router).complete("hi", max_cost_usd=0.001)
        cheap = RoutedChatModel(router=router, max_cost_usd=0.01, max_tokens=1)
        assert cheap.invoke("hi").content  # within the limit: answered
    assert len(primary.requests) == 1


# --- defence in depth: a bad cost never lowers a budget ---------------------------------------


@pytest.mark.parametrize("tokens", [-10**9, float("nan"), float("inf")])  # output tokens
def test_a_negative_nan_or_infinite_settle_keeps_the_hold_as_spent(
    echo_registry: PluginRegistry, primary: StandinServer, tokens: float,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with _router(echo_registry, primary.url, pricing={"overrides": {"a:m": PRICE}},
                 budgets=[{"scope": "global", "usd": 1.0, "per": "total"}]) as router:
        guard = find_guard(router, CostGuard)
        assert isinstance(guard, CostGuard)
        dep = Deployment("a", "m")
        request = _ask()
        ticket = guard.before_attempt(dep, request)
        usage = Usage.model_construct(input_tokens=3, output_tokens=tokens, cache_read_tokens=0,
                                      cache_write_tokens=0, reasoning_tokens=0)
        response = ChatResponse.model_construct(message=Message.assistant("x"), usage=usage,
                                                provider="a", model="m", latency_ms=None)
        with caplog.at_level(logging.ERROR):
            guard.after_attempt(dep, request, ticket,
                                Attempt(provider="a", model="m", ok=True, latency_ms=1.0),
                                response)
        held = ticket.holds[0][2]  # the reservation: the prompt at its ceiling, max_tokens 10
        assert held >= RESERVATION
        assert router.state.number("budget:global:total") == pytest.approx(held)
        assert router.state.number("budget:global:total:spent") == pytest.approx(held)
    assert "keep this attempt's reservation as spent" in caplog.text


def test_an_infinite_budget_is_a_config_error(echo_registry: PluginRegistry) -> None:
    from polyroute.errors import ConfigError

    with pytest.raises(ConfigError, match=r"budgets\.0\.usd"):
        Router({"providers": {}, "budgets": [{"scope": "global", "usd": float("inf"),
                                              "per": "day"}]}, registry=echo_registry)
