"""Pricing: token classes per provider family, sources and their order, unknown prices."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from polyroute.config.cost import PriceOverride, PricingConfig
from polyroute.cost import Prices, cost_of
from polyroute.cost.book import PriceBook
from polyroute.cost.dataset import dataset_prices
from polyroute.errors import NoRouteError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.routing.plan import Deployment
from polyroute.testing.standin import StandinServer
from polyroute.types import ChatRequest, Message, ModelPrices, RoutingHints, Usage

M = 1_000_000


def registry_with(*names: str) -> PluginRegistry:
    plugins = [pytest.importorskip(f"polyroute_{n}.plugin") for n in names]
    return PluginRegistry.create(load_entrypoints=False, plugins=plugins)


# --- OpenAI: cached input and reasoning, as the plugin parses them ----------------


def test_openai_cached_and_reasoning_tokens_are_priced_by_class() -> None:
    parse = pytest.importorskip("polyroute_openai.parse")
    usage = parse.parse_usage({
        "prompt_tokens": 10_000, "completion_tokens": 3_000,
        "prompt_tokens_details": {"cached_tokens": 8_000},
        "completion_tokens_details": {"reasoning_tokens": 2_000},
    })
    assert usage is not None
    reg = registry_with("openai")
    book = PriceBook(PricingConfig(), lambda d: reg.model_info("openai", d.model))
    prices = book.prices(Deployment("openai", "o3"))
    assert (prices.input, prices.cache_read, prices.output, prices.source) == (
        2.0, 0.5, 8.0, "catalog")
    parts = prices.breakdown(usage)
    assert parts is not None
    assert parts.input == pytest.approx(2_000 * 2.0 / M)      # fresh prompt tokens only
    assert parts.cache_read == pytest.approx(8_000 * 0.5 / M)  # cached at the cached rate
    assert parts.output == pytest.approx(1_000 * 8.0 / M)     # visible output
    assert parts.reasoning == pytest.approx(2_000 * 8.0 / M)  # reasoning billed as output
    assert cost_of(usage, reg.model_info("openai", "o3").prices) == pytest.approx(  # type: ignore[union-attr]
        parts.total)
    # a separate reasoning rate (config) applies to the reasoning part only
    book = PriceBook(PricingConfig(overrides={"openai:o3": PriceOverride(reasoning=20.0)}),
                     lambda d: reg.model_info("openai", d.model))
    p2 = book.prices(Deployment("openai", "o3"))
    assert p2.source == "config" and p2.input == 2.0
    assert p2.cost(usage) == pytest.approx(parts.total - 2_000 * 8.0 / M + 2_000 * 20.0 / M)


# --- Anthropic: cache writes, cache reads, thinking as output ------------------------


def test_anthropic_cache_write_read_and_thinking_tokens() -> None:
    parse = pytest.importorskip("polyroute_anthropic.parse")
    usage = parse.usage_from({
        "input_tokens": 1_000, "cache_creation_input_tokens": 4_000,
        "cache_read_input_tokens": 20_000, "output_tokens": 1_500,
    })
    assert usage.input_tokens == 25_000
    reg = registry_with("anthropic")
    info = reg.model_info("anthropic", "claude-sonnet-4-5")
    assert info is not None
    p = info.prices
    assert (p.input, p.cache_write, p.cache_read, p.output) == (3.0, 3.75, 0.30, 15.0)
    expected = (1_000 * 3.0 + 4_000 * 3.75 + 20_000 * 0.30 + 1_500 * 15.0) / M
    assert cost_of(usage, p) == pytest.approx(expected)
    # extended thinking is part of output_tokens and billed at the output rate
    thinking = usage.model_copy(update={"reasoning_tokens": 1_200})
    assert cost_of(thinking, p) == pytest.approx(expected)


def test_unpriced_cache_classes_fall_back_to_the_input_rate() -> None:
    usage = Usage(input_tokens=1000, cache_read_tokens=400, cache_write_tokens=100,
                  output_tokens=10, reasoning_tokens=4)
    assert cost_of(usage, ModelPrices(input=1.0, output=2.0)) == pytest.approx(
        (1000 * 1.0 + 10 * 2.0) / M)
    assert cost_of(usage, ModelPrices(input=1.0)) is None  # never a silent $0


# --- sources ---------------------------------------------------------------------------


def test_dataset_prices_models_the_catalogs_do_not_know_offline() -> None:
    groq = dataset_prices(("groq",), "llama-3.3-70b-versatile")
    assert groq is not None and groq.source == "dataset"
    assert groq.input and groq.output and groq.output > groq.input
    claude = dataset_prices(("anthropic",), "claude-sonnet-4-5")
    assert claude is not None and claude.cache_write == pytest.approx(3.75)
    assert dataset_prices(("nosuchprovider",), "nosuchmodel") is None


def test_config_beats_catalog_beats_dataset() -> None:
    reg = registry_with("openai")
    info = lambda d: reg.model_info("openai", d.model)  # noqa: E731
    dep = Deployment("openai", "gpt-4.1")
    assert PriceBook(PricingConfig(), info).prices(dep).source == "catalog"
    cfg = PricingConfig(overrides={"openai/gpt-4.1": PriceOverride(input=1.0)})
    p = PriceBook(cfg, info).prices(dep)
    assert (p.source, p.input, p.output) == ("config", 1.0, 8.0)  # output from the catalog
    nothing = PriceBook(PricingConfig(), lambda d: None, lambda d: ("openai",))
    assert nothing.prices(dep).source == "dataset"
    off = PriceBook(PricingConfig(dataset=False), lambda d: None, lambda d: ("openai",))
    assert not off.prices(dep).known


def test_estimate_is_worst_case() -> None:
    p = Prices(input=2.0, output=8.0, reasoning=10.0)
    assert p.estimate(1000, 500) == pytest.approx((1000 * 2 + 500 * 10) / M)
    assert Prices().estimate(1000, 500) == 0.0


# --- unknown prices through the router ---------------------------------------------------


def _router(registry: PluginRegistry, url: str, **extra: Any) -> Router:
    return Router({
        "providers": {"a": {"type": "echo", "base_url": url},
                      "b": {"type": "echo", "base_url": url}},
        "agents": {"bot": {"model": "a:m", "fallbacks": ["b:m"]}},
        "retry": {"attempts": 1},
        **extra,
    }, registry=registry)


def ask() -> ChatRequest:
    return ChatRequest(messages=[Message.user("hi")], routing=RoutingHints(agent="bot"))


def test_unknown_price_warn_records_unknown_not_zero(
    echo_registry: PluginRegistry, primary: StandinServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="polyroute.cost"), _router(
        echo_registry, primary.url, pricing={"unknown": "warn"}
    ) as router:
        first = router.chat(ask())
        router.chat(ask())
    assert first.cost_usd is None
    warnings = [r for r in caplog.records if "no known price for a/m" in r.getMessage()]
    assert len(warnings) == 1  # once per deployment


def test_unknown_price_block_skips_the_candidate(
    echo_registry: PluginRegistry, primary: StandinServer
) -> None:
    priced = {"b:m": {"input": 1.0, "output": 2.0}}
    with _router(echo_registry, primary.url,
                 pricing={"unknown": "block", "overrides": priced}) as router:
        plan = router.plan(ask())
        assert [o.reason for o in plan.skipped] == ["no known price (pricing.unknown: block)"]
        resp = router.chat(ask())
        assert resp.provider == "b" and resp.cost_usd == pytest.approx(
            (3 * 1.0 + resp.usage.output_tokens * 2.0) / M)
    with _router(echo_registry, primary.url, pricing={"unknown": "block"}) as router, \
            pytest.raises(NoRouteError, match="no known price"):
        router.chat(ask())
