"""``state.on_failure``: with the Redis server dead, rate limits, breakers and health
fail open (the call is answered, a warning says why), budgets fail closed (the call
is refused with ``StateStoreUnavailable``); both configurable; a corrupt value
fails closed whatever the policy."""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest

from polyroute.errors import StateStoreError, StateStoreUnavailable
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.testing.standin import StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints

pytest.importorskip("redis")
ASK = ChatRequest(messages=[Message.user("hi")], routing=RoutingHints(agent="bot"))


def _dead_url() -> str:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        return f"redis://:hunter2@127.0.0.1:{s.getsockname()[1]}/0"


def _router(server: StandinServer, registry: PluginRegistry, *, budget: bool = False,
            on_failure: dict[str, str] | None = None) -> Router:
    from polyroute.state.redis import RedisStore

    config: dict[str, Any] = {
        "providers": {"a": {"type": "echo", "base_url": server.url, "rpm": 1000}},
        "agents": {"bot": {"model": "a:m"}},
        "breaker": {"failures": 3},
        "state": {"backend": "redis", "on_failure": on_failure or {}},
    }
    if budget:
        config["models"] = {"a:m": {"prices": {"input": 1.0, "output": 1.0}}}
        config["budgets"] = [{"scope": "global", "usd": 10, "per": "day"}]
    url = _dead_url()
    return Router(config, registry=registry, state=RedisStore(url, timeout=0.2))


@pytest.mark.standin
def test_rate_limits_and_breakers_fail_open_with_a_warning(
        echo_registry: PluginRegistry, primary: StandinServer,
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING), _router(primary, echo_registry) as router:
        assert router.chat(ASK).provider == "a"
        assert router.chat(ASK).provider == "a"
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "rate_limit guard: state store unreachable" in said
    assert "state.on_failure.rate_limit: open" in said and "circuit_breaker guard" in said
    assert "hunter2" not in said  # the password never reaches the log


@pytest.mark.standin
async def test_budgets_fail_closed_by_default(
        echo_registry: PluginRegistry, primary: StandinServer) -> None:
    async with _router(primary, echo_registry, budget=True) as router:
        with pytest.raises(StateStoreUnavailable, match="failed") as err:
            await router.achat(ASK)
    assert "hunter2" not in str(err.value)
    assert primary.requests == []  # refused before any provider call


@pytest.mark.standin
def test_each_policy_is_configurable(echo_registry: PluginRegistry,
                                     primary: StandinServer) -> None:
    with _router(primary, echo_registry, budget=True,
                 on_failure={"budget": "open"}) as router:
        assert router.chat(ASK).provider == "a"  # let through, uncounted
    with _router(primary, echo_registry, on_failure={"rate_limit": "closed"}) as router, \
            pytest.raises(StateStoreUnavailable):
        router.chat(ASK)


def test_an_unknown_policy_is_a_config_error() -> None:
    from polyroute.errors import ConfigError

    with pytest.raises(ConfigError, match=r"state\.on_failure\.budget"):
        Router({"providers": {}, "state": {"on_failure": {"budget": "maybe"}}})


def test_a_corrupt_value_fails_closed_even_where_the_policy_is_open() -> None:
    from polyroute.config.cost import StoreFailureConfig
    from polyroute.config.resilience import BreakerConfig
    from polyroute.refs import Deployment
    from polyroute.resilience.breaker import CircuitBreaker
    from polyroute.routing.store_failure import apply_store_failure_policy
    from polyroute.state.memory import MemoryStore

    store = MemoryStore()
    breaker = CircuitBreaker(BreakerConfig(), store)
    apply_store_failure_policy([breaker], StoreFailureConfig(breaker="open"))
    store.set("cb:p/m", {"until": "soon"})
    with pytest.raises(StateStoreError) as err:
        breaker.skip_reason(Deployment("p", "m"), ChatRequest(messages=[Message.user("x")]))
    assert not isinstance(err.value, StateStoreUnavailable)


def _strategy_router(server: StandinServer, registry: PluginRegistry, strategy: str,
                     on_failure: dict[str, str] | None = None) -> Router:
    from polyroute.state.redis import RedisStore

    config: dict[str, Any] = {
        "providers": {"a": {"type": "echo", "base_url": server.url},
                      "b": {"type": "echo", "base_url": server.url}},
        "routes": {"pool": {"tiers": [["a:m", "b:m"]], "strategy": strategy}},
        "agents": {"bot": {"route": "pool"}},
        "state": {"backend": "redis", "on_failure": on_failure or {}},
    }
    return Router(config, registry=registry, state=RedisStore(_dead_url(), timeout=0.2))


@pytest.mark.standin
@pytest.mark.parametrize("strategy", ["round_robin", "least_busy", "least_latency", "lru"])
async def test_stateful_strategies_fall_back_to_config_order(
        echo_registry: PluginRegistry, primary: StandinServer, strategy: str,
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        async with _strategy_router(primary, echo_registry, strategy) as router:
            assert (await router.achat(ASK)).provider == "a"  # config order: a first
            assert router.chat(ASK).provider == "a"
            explained = router.rankings(ASK)
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "state.on_failure.strategy: open" in said and "hunter2" not in said
    assert "not a value polyroute wrote" not in said  # an outage is not reported as bad data
    assert "state store unreachable" in str(explained)


@pytest.mark.standin
def test_a_closed_strategy_policy_fails_the_call(
        echo_registry: PluginRegistry, primary: StandinServer) -> None:
    with _strategy_router(primary, echo_registry, "round_robin",
                          on_failure={"strategy": "closed", "health": "open"}) as router, \
            pytest.raises(StateStoreUnavailable) as err:
        router.chat(ASK)
    assert "hunter2" not in str(err.value)
