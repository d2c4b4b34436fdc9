"""One ``PriceBook`` per router prices everything a user sees: an answer's ``cost_usd``
(chat and streams, whatever else is configured), what budgets settle, and the order
``lowest_cost`` ranks in. Precedence: ``pricing.overrides``, then the catalog (a
plugin's entry with the config's ``models:`` prices on top), then genai-prices."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "support"))

import echo_provider

from polyroute import hookimpl
from polyroute.cost.dataset import dataset_prices
from polyroute.cost.pricing import Prices
from polyroute.plugins import PluginRegistry
from polyroute.refs import Deployment
from polyroute.router import Router
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import ChatChunk, ChatRequest, Message, ModelInfo, ModelPrices, RoutingHints

M = 1_000_000
GLOBAL_BUDGET = [{"scope": "global", "usd": 5, "per": "day"}]


class _Catalog:
    """A plugin catalog entry for the echo type: ``m1`` at $2/$4."""

    @hookimpl
    def polyroute_register_models(self, register: Callable[[ModelInfo], None]) -> None:
        register(ModelInfo(provider_type="echo", model="m1",
                           prices=ModelPrices(input=2.0, output=4.0)))


@pytest.fixture(scope="module")
def registry() -> PluginRegistry:
    return PluginRegistry.create(load_entrypoints=False, plugins=[echo_provider, _Catalog()])


@pytest.fixture
def server() -> Iterator[StandinServer]:
    with StandinServer(echo_provider.EchoResponder("echo")) as s:
        yield s


def ask(agent: str = "bot") -> ChatRequest:
    return ChatRequest(messages=[Message.user("hello there friend")],
                       routing=RoutingHints(agent=agent))


def router_for(registry: PluginRegistry, url: str, model: str, **extra: Any) -> Router:
    """A provider named ``openai`` (so genai-prices knows its models) of the echo type."""
    cfg: dict[str, Any] = {"providers": {"openai": {"type": "echo", "base_url": url}},
                           "agents": {"bot": {"model": f"openai:{model}"}}, **extra}
    return Router(cfg, registry=registry)


def test_precedence_override_then_models_then_catalog_then_dataset(
    registry: PluginRegistry, server: StandinServer
) -> None:
    dep = Deployment("openai", "m1")
    with router_for(registry, server.url, "m1") as r:
        assert (r.price_book.prices(dep).source, r.price_book.prices(dep).input) == (
            "catalog", 2.0)
    models = {"openai:m1": {"prices": {"input": 3.0, "output": 6.0}}}
    with router_for(registry, server.url, "m1", models=models) as r:
        assert (r.price_book.prices(dep).input, r.price_book.prices(dep).output) == (3.0, 6.0)
    overrides = {"pricing": {"overrides": {"openai:m1": {"input": 1.0}}}}
    with router_for(registry, server.url, "m1", models=models, **overrides) as r:
        p = r.price_book.prices(dep)
        assert (p.source, p.input, p.output) == ("config", 1.0, 6.0)
    mini = Deployment("openai", "gpt-4o-mini")  # no catalog entry: the dataset's price
    with router_for(registry, server.url, "gpt-4o-mini") as r:
        assert r.price_book.prices(mini) == dataset_prices(("openai",), "gpt-4o-mini")
        assert r.price_book.prices(mini).source == "dataset"


def _stream(router: Router) -> ChatChunk:
    chunks = list(router.stream(ask()))
    return chunks[-1]


@pytest.mark.parametrize("extra", [
    {}, {"budgets": GLOBAL_BUDGET}, {"ledger": {}}, {"pricing": {"unknown": "warn"}},
], ids=["nothing-else", "budgets", "ledger", "pricing-section"])
@pytest.mark.parametrize("model", ["gpt-4o-mini", "m1"], ids=["dataset-only", "catalog"])
def test_cost_usd_does_not_depend_on_what_else_is_configured(
    registry: PluginRegistry, server: StandinServer, tmp_path: Path, extra: dict[str, Any],
    model: str,
) -> None:
    """Was: a model priced only by genai-prices cost ``None`` unless budgets, a ledger or a
    pricing section built the cost guard, which then re-priced the answer."""
    if "ledger" in extra:
        extra = {"ledger": {"path": str(tmp_path / "ledger.db")}}
    prices = (dataset_prices(("openai",), model) if model != "m1"
              else Prices(input=2.0, output=4.0))
    assert prices is not None and prices.known
    with router_for(registry, server.url, model, **extra) as r:
        chat = r.chat(ask())
        final = _stream(r)
    assert chat.cost_usd == pytest.approx(prices.cost(chat.usage))
    assert final.usage is not None
    assert final.cost_usd == pytest.approx(prices.cost(final.usage))


def _spent(router: Router) -> float:
    store: Any = router.state
    keys = [k for k in store._data if k.startswith("budget:") and k.endswith(":spent")]
    return sum(router.state.number(k) for k in keys)


def test_a_continued_stream_costs_what_the_budget_settles(
    registry: PluginRegistry, tmp_path: Path
) -> None:
    """Was: the continued answer's usage summed, then priced at the last deployment's
    rate ($0.00135), while the budget settled only the last segment ($0.00091): each
    segment now costs its own deployment's price, and the budget settles the cut one
    with what it streamed."""
    with StandinServer(echo_provider.EchoResponder("primary")) as p, \
            StandinServer(echo_provider.EchoResponder("secondary")) as s:
        cfg = {
            "providers": {"primary": {"type": "echo", "base_url": p.url},
                          "secondary": {"type": "echo", "base_url": s.url}},
            "agents": {"bot": {"model": "primary:m1", "fallbacks": ["secondary:m2"]}},
            "models": {"primary:m1": {"prices": {"input": 10, "output": 30}},
                       "secondary:m2": {"prices": {"input": 20, "output": 50}}},
            "streaming": {"on_failure": "continue"}, "budgets": GLOBAL_BUDGET,
            "ledger": {"path": str(tmp_path / "ledger.db")},
        }
        with Router(cfg, registry=registry) as router:
            p.push(Fault.cut_stream(2))
            final = _stream(router)
            spent = _spent(router)
            report = router.usage_stats(since=None)
    assert final.continued and final.provider == "secondary"
    assert final.cost_usd is not None and final.usage is not None
    cut = next(a for a in final.attempts if a.error == "StreamInterruptedError")
    assert cut.provider == "primary"
    # each segment at its own price: dearer than the whole at primary's, cheaper than at
    # secondary's
    assert Prices(input=10, output=30).cost(final.usage) < final.cost_usd
    assert final.cost_usd < Prices(input=20, output=50).cost(final.usage)  # type: ignore[operator]
    assert spent == pytest.approx(final.cost_usd)
    assert report.total.cost_usd == pytest.approx(final.cost_usd)


def test_lowest_cost_ranks_a_dataset_priced_model_by_that_price(
    registry: PluginRegistry, server: StandinServer
) -> None:
    """Was: ``lowest_cost`` read the catalog only, so a model priced only by genai-prices
    ranked last ("no price") while budgets priced it."""
    cfg = {
        "providers": {"openai": {"type": "echo", "base_url": server.url}},
        "routes": {"r": {"strategy": "lowest_cost",
                         "tiers": [["openai:m1", "openai:gpt-4o-mini"]]}},
        "models": {"openai:m1": {"prices": {"input": 50.0, "output": 100.0}}},
        "default": "r",
    }
    request = ChatRequest(messages=[Message.user("hello there friend")])
    with Router(cfg, registry=registry) as router:
        ranked = router.rankings(request)[0]
        mini = router.price_book.prices(Deployment("openai", "gpt-4o-mini"))
    assert mini.source == "dataset" and mini.input is not None and mini.output is not None
    assert [r.dep.model for r in ranked] == ["gpt-4o-mini", "m1"]
    score = ranked[0].score
    assert score is not None and score > 0
    assert "no known price" not in ranked[0].why
