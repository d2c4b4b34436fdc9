"""``RouterContext``: the narrow object every guard is built from. A guard can be built
and driven from one made of stubs (no router, no plugins); it cannot be rebound; its
repr shows no secret of the config it carries."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from polyroute.analytics.alerts import Alerts
from polyroute.budgets.per_call import MaxCostGuard
from polyroute.catalog.overflow import ContextOverflowGuard
from polyroute.config import config_from_data
from polyroute.config.cost import PricingConfig
from polyroute.cost.book import PriceBook
from polyroute.params import ParamsGuard
from polyroute.refs import Deployment
from polyroute.routing.builtin_guards import builtin_guards
from polyroute.routing.context import RouterContext
from polyroute.routing.selection import SelectionGuard
from polyroute.state import MemoryStore
from polyroute.transport import Transport
from polyroute.types import ChatRequest, Message, ModelInfo


def _context(**config: Any) -> RouterContext:
    cfg = config_from_data({"providers": {"p": {"type": "openai",
                                                "api_key": "sk-very-secret-1234"}}, **config})
    info = {Deployment("p", "small"): ModelInfo(provider_type="openai", model="small",
                                                context_window=8_000)}
    book = PriceBook(PricingConfig(dataset=False), info.get)

    def source(request: ChatRequest) -> Any:
        raise AssertionError("no guard of this config plans")

    return RouterContext(config=cfg, state=MemoryStore(), provider=lambda name: None,
                         model_info=info.get, prices=book, source=source,
                         alerts=Alerts(), transport=Transport())


def test_a_config_without_cost_sections_builds_the_light_guards_from_stubs() -> None:
    ctx = _context()
    guards = builtin_guards(ctx)
    assert [type(g) for g in guards] == [ParamsGuard, ContextOverflowGuard, SelectionGuard,
                                         MaxCostGuard]
    overflow = guards[1]
    assert isinstance(overflow, ContextOverflowGuard)
    assert overflow._window(Deployment("p", "small")) == 8_000  # read through ctx.model_info
    request = ChatRequest(messages=[Message.user("hi")])
    assert guards[0].skip_reason(Deployment("p", "small"), request) is None


def test_the_context_is_frozen_and_its_repr_hides_the_config() -> None:
    ctx = _context()
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.config = ctx.config  # type: ignore[misc]
    assert "sk-very-secret" not in repr(ctx) and "sk-very-secret" not in str(ctx)
    assert repr(ctx) == "<RouterContext source=None>"


def test_the_router_hands_every_guard_its_context_not_itself() -> None:
    from polyroute.budgets.guard import CostGuard
    from polyroute.cost.wiring import find_guard
    from polyroute.router import Router

    with Router({"budgets": [{"scope": "global", "usd": 5}]}) as router:
        guard = find_guard(router, CostGuard)
        assert isinstance(guard, CostGuard)
        assert guard.book is router.price_book is router.context.prices
        assert guard.alerts is router.alerts is router.context.alerts
        assert not any(v is router for g in router.guards
                       for v in getattr(g, "__dict__", {}).values())
