"""The chat guards apply to embedding calls: budgets block, a per-request budget sees
the input-token price, circuit breakers open and skip, rate limits skip, and no key
reaches a log line or an error."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyroute.config import config_from_data
from polyroute.errors import BudgetExceeded, ConfigError, NoRouteError
from polyroute.testing.standin import Fault, StandinServer

SMALL = "text-embedding-3-small"
ROUTE = {"default": "docs", "routes": {"docs": {
    "deployments": [f"east/{SMALL}", f"west/{SMALL}"]}}}


def test_a_spent_budget_blocks_embeddings(make_router: Any, east: StandinServer) -> None:
    # $0.00001 is 500 input tokens at text-embedding-3-small's $0.02 per million
    router = make_router(ROUTE, budgets=[{"scope": "global", "usd": 0.00001, "per": "day"}])
    assert router.embed(["a short note"]).cost_usd == pytest.approx(3 * 0.02 / 1e6)
    with pytest.raises(BudgetExceeded):
        router.embed([" ".join(["word"] * 1000)])  # ~1000 tokens: over, refused up front
    assert len(east.requests) == 1  # the refused call sent nothing


def test_budget_scoped_to_a_provider_moves_the_call_within_the_space(
        make_router: Any, east: StandinServer, west: StandinServer) -> None:
    router = make_router(ROUTE, budgets=[{"scope": "provider:east", "usd": 0.00001,
                                          "per": "day"}])
    assert router.embed(["a short note"]).provider == "east"
    big = router.embed([" ".join(["word"] * 1000)])
    assert big.provider == "west" and big.space == f"openai/{SMALL}@1536"


def test_an_open_breaker_skips_the_deployment(make_router: Any, east: StandinServer,
                                             west: StandinServer) -> None:
    router = make_router(ROUTE, retry={"attempts": 1},
                         breaker={"failures": 2, "failure_ratio": None})
    east.push(Fault.status(500), Fault.status(500))
    assert router.embed(["a"]).provider == "west"
    assert router.embed(["b"]).provider == "west"
    sent_to_east = len(east.requests)
    resp = router.embed(["c"])
    assert resp.provider == "west" and len(east.requests) == sent_to_east  # skipped


def test_a_rate_limit_with_on_limit_skip_moves_on(make_router: Any, east: StandinServer,
                                                  west: StandinServer) -> None:
    router = make_router(ROUTE, rate_limits={"on_limit": "skip",
                                             "deployments": {f"east/{SMALL}": {"rpm": 1}}})
    assert router.embed(["a"]).provider == "east"
    assert router.embed(["b"]).provider == "west"


def test_keys_never_reach_logs(make_router: Any, east: StandinServer, west: StandinServer,
                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    router = make_router(ROUTE, retry={"attempts": 1})
    east.push(Fault.status(401, message="Incorrect API key provided: sk-east-secret"))
    west.push(Fault.status(500, message="upstream echoed sk-west-secret"))
    with pytest.raises(NoRouteError) as info:
        router.embed(["x"])
    text = caplog.text + str(info.value) + repr(info.value.outcomes)
    assert "sk-east-secret" not in text and "sk-west-secret" not in text


_section = st.fixed_dictionaries({}, optional={
    "default": st.one_of(st.none(), st.text(max_size=8)),
    "concurrency": st.one_of(st.integers(-5, 100), st.floats(allow_nan=True), st.text()),
    "cache": st.one_of(st.booleans(), st.text(max_size=3)),
    "cache_ttl": st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
    "agents": st.dictionaries(st.text(max_size=5), st.one_of(st.text(max_size=5),
                                                              st.integers())),
    "routes": st.dictionaries(st.text(max_size=5), st.fixed_dictionaries({}, optional={
        "deployments": st.lists(st.text(max_size=12), max_size=3),
        "dimensions": st.one_of(st.integers(-3, 70000), st.floats(allow_nan=True)),
        "allow_cross_space": st.one_of(st.booleans(), st.integers()),
        "input_type": st.text(max_size=10)})),
    "bogus": st.integers()})


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(_section)
def test_hostile_embeddings_sections_give_only_config_errors(section: dict[str, Any]) -> None:
    try:
        config_from_data({"embeddings": section})
    except ConfigError as exc:
        assert "embeddings" in str(exc)


def test_privacy_masks_the_texts_a_provider_embeds_and_refuse_skips_it(
        make_router: Any, east: StandinServer, west: StandinServer) -> None:
    route = {"default": "docs", "routes": {"docs": {
        "deployments": ["east/text-embedding-3-small", "west/text-embedding-3-small"]}}}
    router = make_router(route, privacy={"mode": "mask", "providers": {"west": "allow"}})
    texts = ["mail jane.doe@example.com today", "no personal data here"]
    resp = router.embed(texts)
    sent = east.requests[-1].json()["input"]
    assert sent == ["mail [EMAIL] today", "no personal data here"]
    assert resp.provider == "east" and texts[0] == "mail jane.doe@example.com today"
    refusing = make_router(route, privacy={"mode": "refuse", "providers": {"west": "allow"}})
    before = len(east.requests)
    resp = refusing.embed(["mail jane.doe@example.com"])
    assert resp.provider == "west" and len(east.requests) == before  # east never saw it
    assert west.requests[-1].json()["input"] == ["mail jane.doe@example.com"]  # allowed
