"""Corrupt values under the resilience guards' keys (issue 9, item 2).

Another process, a hand edit or a bad migration can leave anything in the shared
store. The breaker, the rate limiter and the rate-limit cooldown fail closed: a
``StateStoreError`` naming the key and how to delete it, and not one call slips
through. Health, strategies and failover statistics only rank or report: a corrupt
value is no data, with a warning naming the key. Each scenario runs on the memory,
SQLite and Redis stores.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from resilience_helpers import FakeClock, ask

from polyroute.config.resilience import BreakerConfig
from polyroute.errors import StateStoreError
from polyroute.plugins import PluginRegistry
from polyroute.resilience.breaker import CircuitBreaker
from polyroute.router import Router
from polyroute.routing.plan import Deployment
from polyroute.state import MemoryStore, StateStore
from polyroute.state.sqlite import SQLiteStore
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import Attempt

P = Deployment("primary", "m1").key
S = Deployment("secondary", "m2").key
WINDOW = 60.0


class Store:
    """A store under test plus a way to write raw text under a key behind its back."""

    def __init__(self, store: StateStore, poke: Any) -> None:
        self.store, self._poke = store, poke

    def poke(self, key: str, text: str) -> None:
        self._poke(key, text)


def _memory(clock: FakeClock) -> Store:
    store = MemoryStore(clock)

    def poke(key: str, text: str) -> None:
        try:  # the memory store holds objects: NaN/inf as floats, junk as a string
            value = json.loads(text)
        except ValueError:
            value = text
        store._data[key] = (value, None)

    return Store(store, poke)


def _sqlite(path: Path) -> Store:
    store = SQLiteStore(path)

    def poke(key: str, text: str) -> None:
        conn = sqlite3.connect(str(path), isolation_level=None)
        conn.execute("INSERT OR REPLACE INTO kv (key, value, expires) VALUES (?, ?, NULL)",
                     (key, text))
        conn.close()

    return Store(store, poke)


def _redis(url: str, prefix: str) -> Store:
    import redis

    from polyroute.state.redis import RedisStore

    store = RedisStore(url, prefix=prefix)

    def poke(key: str, text: str) -> None:
        raw = redis.Redis.from_url(url)
        raw.set(prefix + key, text)
        raw.close()

    return Store(store, poke)


@pytest.fixture(params=["memory", "sqlite", "redis"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def st(kind: str, clock: FakeClock, tmp_path: Path,
       request: pytest.FixtureRequest) -> Iterator[Store]:
    if kind == "memory":
        s = _memory(clock)
    elif kind == "sqlite":
        s = _sqlite(tmp_path / "state.db")
    else:
        s = _redis(*request.getfixturevalue("redis_url"))
    yield s
    s.store.close()


@pytest.fixture
def router(echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
           clock: FakeClock, st: Store) -> Iterator[Any]:
    made: list[Router] = []

    def make(**overrides: Any) -> Router:
        cfg: dict[str, Any] = {
            "providers": {"primary": {"type": "echo", "base_url": primary.url},
                          "secondary": {"type": "echo", "base_url": secondary.url}},
            "agents": {"bot": {"model": "primary:m1", "fallbacks": ["secondary:m2"]}},
            "retry": {"attempts": 1},
        }
        cfg.update(overrides)
        r = Router(cfg, registry=echo_registry, state=st.store, clock=clock, sleep=clock.sleep,
                   asleep=clock.asleep)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def refused(router: Router, st: Store, key: str, calls: int = 5) -> None:
    """Every call is refused with a typed error naming ``key`` and the fix."""
    for _ in range(calls):
        with pytest.raises(StateStoreError) as err:
            router.chat(ask())
        msg = str(err.value)
        assert f"'{key}'" in msg or key in msg, msg
        assert st.store.fix(key) in msg, msg


# raw text as a store could hold it; "-5" is valid JSON but no count or time is negative
JUNK = ["NaN", "Infinity", '"abc"', '{"a": 1}', "[1]", "true", "1e999", "{bad json"]


# --- circuit breaker: fails closed ----------------------------------------------------------

BAD_CIRCUITS = [*JUNK, '{"until": "abc", "n": 0, "why": "x"}', '{"n": 0, "why": "x"}',
                '{"until": 1e300, "n": 0, "why": "x"}', '{"until": 0, "n": -1, "why": "x"}',
                '{"until": 0, "n": 1e300, "why": "x"}', '{"until": 0, "n": 0, "why": 5}']


@pytest.mark.parametrize("text", BAD_CIRCUITS)
def test_corrupt_circuit_state_refuses_the_call_naming_key_and_fix(
    router: Any, st: Store, primary: StandinServer, secondary: StandinServer, text: str
) -> None:
    r = router()
    st.poke(f"cb:{P}", text)
    refused(r, st, f"cb:{P}")
    assert primary.requests == [] and secondary.requests == []


@pytest.mark.parametrize("key", [f"cb:{P}:f", f"cb:{P}:probes"])
@pytest.mark.parametrize("text", ['"abc"', "-1000", "NaN", "[1]"])
def test_corrupt_breaker_counters_are_typed_and_never_keep_a_circuit_closed(
    st: Store, clock: FakeClock, key: str, text: str
) -> None:
    dep = Deployment("primary", "m1")
    b = CircuitBreaker(BreakerConfig(failures=3, failure_ratio=None, cooldown=10), st.store,
                       clock=clock)
    st.poke(key, text)
    fail = Attempt(provider="primary", model="m1", ok=False, latency_ms=1, error="ServerError")
    if key.endswith(":probes"):  # half-open probes are counted in the circuit's record
        key = f"cb:{P}"
        st.poke(key, f'{{"until": {clock() - 1}, "n": 0, "why": "test", "probes": {text}, '
                     f'"probe_until": {clock() + 100}}}')
        with pytest.raises(StateStoreError, match=key) as err:
            b.skip_reason(dep, ask())
        with pytest.raises(StateStoreError, match=key):
            b.before_attempt(dep, ask())
    else:  # -1000 would take 1003 failures to open it: the first one opens it
        with pytest.raises(StateStoreError, match=key) as err:
            b.after_attempt(dep, ask(), None, fail, None)
        assert b.state(dep) == "open"
        reason = b.skip_reason(dep, ask())
        assert reason is not None and "corrupt breaker state" in reason and key in reason
        clock.advance(10)  # the cooldown passes; the counters were reset
        assert b.state(dep) == "half_open"
        b.after_attempt(dep, ask(), b.before_attempt(dep, ask()), fail, None)
        assert b.state(dep) == "open"
    assert st.store.fix(key) in str(err.value)


@pytest.mark.parametrize("text", ['"abc"', "-1000", "[1]"])
def test_corrupt_failure_ratio_window_is_typed(st: Store, clock: FakeClock, text: str) -> None:
    dep = Deployment("primary", "m1")
    b = CircuitBreaker(BreakerConfig(failures=100, failure_ratio=0.5, min_requests=2, window=60),
                       st.store, clock=clock)
    w = int(clock() // 60)
    st.poke(f"cb:{P}:w{w - 1}:n", text)
    fail = Attempt(provider="primary", model="m1", ok=False, latency_ms=1, error="ServerError")
    with pytest.raises(StateStoreError, match=f"cb:{P}:w{w - 1}:n"):
        b.after_attempt(dep, ask(), None, fail, None)
    assert b.state(dep) == "open"  # fails closed


# --- rate limiter: fails closed; no call slips through ----------------------------------------

def _window_key(clock: FakeClock, offset: int = 0) -> str:
    return f"rl:{P}:req:{int(clock() // WINDOW) + offset}"


@pytest.mark.parametrize("algorithm", ["fixed_window", "sliding_window"])
@pytest.mark.parametrize("text", ["-1000", '"abc"', "NaN", "Infinity", "[1]", '{"a": 1}'])
def test_corrupt_window_counter_lets_no_call_through(
    router: Any, st: Store, clock: FakeClock, primary: StandinServer, algorithm: str, text: str
) -> None:
    r = router(agents={"bot": {"model": "primary:m1"}},
               rate_limits={"algorithm": algorithm, "on_limit": "skip",
                            "deployments": {"primary": {"rpm": 1}}})
    key = _window_key(clock)
    st.poke(key, text)
    refused(r, st, key, calls=20)
    assert primary.requests == []  # -1000 used to let 1001 calls through a limit of 1


@pytest.mark.parametrize("text", ["-1000", '"abc"', "[1]"])
def test_corrupt_previous_window_of_a_sliding_limit_lets_no_call_through(
    router: Any, st: Store, clock: FakeClock, primary: StandinServer, text: str
) -> None:
    r = router(agents={"bot": {"model": "primary:m1"}},
               rate_limits={"algorithm": "sliding_window", "on_limit": "skip",
                            "deployments": {"primary": {"rpm": 1}}})
    key = _window_key(clock, -1)
    st.poke(key, text)
    refused(r, st, key, calls=10)
    assert primary.requests == []


@pytest.mark.parametrize(("suffix", "text"), [
    ("t0", '"abc"'), ("t0", "-1e300"), ("t0", "1e300"), ("t0", "[1]"), ("t0", "NaN"),
    ("c", "-1000"), ("c", '"abc"'), ("c", "Infinity"),
])
def test_corrupt_token_bucket_lets_no_call_through(
    router: Any, st: Store, primary: StandinServer, suffix: str, text: str
) -> None:
    r = router(agents={"bot": {"model": "primary:m1"}},
               rate_limits={"algorithm": "token_bucket", "on_limit": "skip",
                            "deployments": {"primary": {"rpm": 1}}})
    key = f"rl:{P}:req:{suffix}"
    st.poke(key, text)
    refused(r, st, key, calls=10)
    assert primary.requests == []


@pytest.mark.parametrize("text", ['"abc"', "[5]", '["a", 1]', "[0, 1]", "[-1, 1]", "[2, 1]",
                                  '{"a": 1}', "[1e999, 1]"])
def test_corrupt_adaptive_share_is_typed(
    router: Any, st: Store, primary: StandinServer, text: str
) -> None:
    r = router(agents={"bot": {"model": "primary:m1"}},
               rate_limits={"on_limit": "skip", "deployments": {"primary": {"rpm": 1000}}})
    key = f"rl:{P}:adapt"
    st.poke(key, text)
    refused(r, st, key, calls=3)
    assert primary.requests == []


# --- rate-limit cooldown: fails closed ------------------------------------------------------

BAD_COOLDOWNS = [*JUNK, '{"until": 0}', '{"until": "x", "level": 0, "why": "w", "grown": true}',
                 '{"until": 1e300, "level": 0, "why": "w", "grown": true}',
                 '{"until": 0, "level": -5, "why": "w", "grown": true}',
                 '{"until": 0, "level": 0, "why": "w", "grown": 1}']


@pytest.mark.parametrize("text", BAD_COOLDOWNS)
def test_corrupt_cooldown_state_refuses_the_call_naming_key_and_fix(
    router: Any, st: Store, primary: StandinServer, secondary: StandinServer, text: str
) -> None:
    r = router()
    st.poke(f"rlc:{P}", text)
    refused(r, st, f"rlc:{P}")
    assert primary.requests == [] and secondary.requests == []


@pytest.mark.parametrize("text", ["-1000", '"abc"', "[1]"])
def test_a_corrupt_429_count_starts_the_cooldown_instead_of_preventing_it(
    router: Any, st: Store, primary: StandinServer, secondary: StandinServer, text: str
) -> None:
    r = router()
    key = f"rlc:{P}:n"
    st.poke(key, text)
    primary.push(*[Fault.status(429) for _ in range(50)])
    with pytest.raises(StateStoreError, match=key) as err:
        r.chat(ask())  # the first 429 finds the count
    assert st.store.fix(key) in str(err.value)
    for _ in range(10):  # -1000 used to take 1003 429s before any cooldown
        assert r.chat(ask()).provider == "secondary"
    assert len(primary.requests) == 1


def test_a_success_resets_a_corrupt_429_count(router: Any, st: Store) -> None:
    r = router()
    st.poke(f"rlc:{P}:n", "NaN")
    r.chat(ask())  # the success starts the count over: nothing to refuse
    assert st.store.get(f"rlc:{P}:n") is None


# --- health and strategies: no data, a warning naming the key --------------------------------

def _health_keys(clock: FakeClock) -> list[str]:
    w = int(clock() // 60)
    return [f"h:{P}:busy", f"h:{P}:ewma", f"h:{P}:last", f"h:{P}:{w}:ok", f"h:{P}:{w}:err",
            f"h:{P}:{w}:b0"]


@pytest.mark.parametrize("text", ['"abc"', "NaN", "-1000", '{"a": 1}', "[1]", "1e999"])
def test_corrupt_health_data_is_no_data_with_a_warning(
    router: Any, st: Store, clock: FakeClock, primary: StandinServer,
    caplog: pytest.LogCaptureFixture, text: str,
) -> None:
    r = router(routes={"r": {"strategy": "health", "tiers": [["primary/m1", "secondary/m2"]]}},
               agents={"bot": {"route": "r"}})
    keys = _health_keys(clock)
    for key in keys:
        st.poke(key, text)
    with caplog.at_level(logging.WARNING, logger="polyroute"):
        for _ in range(3):
            assert r.chat(ask()).provider in ("primary", "secondary")
        snap = r.health.snapshot([P])[P]
    assert snap["in_flight"] >= 0 and snap["requests"] >= 0
    warned = caplog.text
    for key in keys[:2] + keys[3:]:  # `last` is rewritten before anything reads it
        assert f"'{key}'" in warned, (key, warned)
    # the fix is the store's own command (a log filter may mask a URL in it)
    assert "To reset it now: " in warned


@pytest.mark.parametrize("strategy", ["lru", "least_busy", "least_latency", "round_robin"])
@pytest.mark.parametrize("text", ['"abc"', "-1e12", "NaN", "[1]", "1e300"])
def test_strategies_rank_past_corrupt_values_with_a_warning(
    router: Any, st: Store, caplog: pytest.LogCaptureFixture, strategy: str, text: str
) -> None:
    r = router(routes={"r": {"strategy": strategy, "tiers": [["primary/m1", "secondary/m2"]]}},
               agents={"bot": {"route": "r"}})
    key = {"lru": f"h:{P}:last", "least_busy": f"h:{P}:busy", "least_latency": f"h:{P}:ewma",
           "round_robin": f"rr:{P},{S}"}[strategy]
    st.poke(key, text)
    with caplog.at_level(logging.WARNING, logger="polyroute"):
        answered = [r.chat(ask()).provider for _ in range(2)]
    assert set(answered) <= {"primary", "secondary"}
    # a big count or latency is valid, and so is any finite round-robin turn
    valid = (text == "1e300" and strategy != "lru") or (
        strategy == "round_robin" and text in ("-1e12", "1e300"))
    assert (key in caplog.text) is not valid, caplog.text


@pytest.mark.parametrize("text", ['"abc"', "-5", '{"a": 1}', "NaN"])
def test_corrupt_failover_statistics_do_not_fail_calls(
    router: Any, st: Store, primary: StandinServer, text: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    r = router()
    for key in ("fo:total", "fo:index:pairs", f"fo:pair:{P} -> {S}"):
        st.poke(key, text)
    primary.push(Fault.status(500))
    with caplog.at_level(logging.WARNING, logger="polyroute"):
        assert r.chat(ask()).provider == "secondary"
        snap = r.resilience.failover.snapshot()
    assert snap["total"] == 1 and "fo:total" in caplog.text


@pytest.mark.parametrize("key", [f"cb:{P}", f"rlc:{P}", "window"])
def test_async_calls_fail_closed_the_same_way(
    router: Any, st: Store, clock: FakeClock, primary: StandinServer, key: str
) -> None:
    import asyncio

    r = router(agents={"bot": {"model": "primary:m1"}},
               rate_limits={"on_limit": "skip", "algorithm": "fixed_window",
                            "deployments": {"primary": {"rpm": 1}}})
    key = _window_key(clock) if key == "window" else key
    st.poke(key, "-1000" if key.startswith("rl:") else '{"a": 1}')

    async def many() -> None:
        for _ in range(10):
            with pytest.raises(StateStoreError, match=key):
                await r.achat(ask())

    asyncio.run(many())
    assert primary.requests == []
