"""``StateStore.cas``: compare-and-set on every backend, the primitive breaker
transitions are built on."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyroute.config.resilience import BreakerConfig
from polyroute.errors import StateStoreError
from polyroute.refs import Deployment
from polyroute.resilience.breaker import CircuitBreaker
from polyroute.routing.guards import CandidateSkipped
from polyroute.state.base import StateStore
from polyroute.state.memory import MemoryStore
from polyroute.types import ChatRequest, Message


def test_cas_sets_only_over_the_expected_value(store: StateStore) -> None:
    assert store.cas("k", None, {"until": 1.5, "n": 0})  # absent -> set
    assert not store.cas("k", None, {"until": 9.0, "n": 0})  # no longer absent
    seen = store.get("k")
    assert not store.cas("k", {"until": 1.5, "n": 1}, {"x": 1})  # not what is there
    assert store.cas("k", seen, {**seen, "n": 1})
    assert store.get("k") == {"until": 1.5, "n": 1}
    assert not store.cas("k", seen, None)  # stale: someone moved it
    assert store.cas("k", {"until": 1.5, "n": 1}, None)  # delete
    assert store.get("k") is None
    with pytest.raises(StateStoreError, match="finite"):
        store.cas("k", None, {"until": float("nan")})


async def test_concurrent_cas_lets_one_writer_win_each_round(store: StateStore) -> None:
    await store.aset("c", 0)
    wins = 0

    async def bump() -> None:
        nonlocal wins
        for _ in range(50):
            seen = await store.aget("c")
            if await store.acas("c", seen, seen + 1):
                wins += 1
                return

    await asyncio.gather(*(bump() for _ in range(16)))
    assert wins == 16 and await store.aget("c") == 16  # no increment lost


@settings(max_examples=60, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5)
                    | st.floats(allow_nan=False, allow_infinity=False),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=3), inner, max_size=3), max_leaves=8))
def test_cas_round_trips_any_json_value_in_memory(value: object) -> None:
    store = MemoryStore()
    if value is None:
        assert store.cas("k", None, None)
        return
    assert store.cas("k", None, value)
    assert store.cas("k", store.get("k"), None)


def _half_open(store: StateStore, clock: list[float]) -> CircuitBreaker:
    b = CircuitBreaker(BreakerConfig(failures=1, failure_ratio=None, cooldown=10), store,
                       clock=lambda: clock[0])
    store.set("cb:p/m", {"until": clock[0] - 1, "n": 0, "why": "test"})
    return b


def test_a_probe_abandoned_by_a_killed_process_frees_its_slot_after_the_cooldown(
        store: StateStore) -> None:
    clock = [1000.0]
    dep, ask = Deployment("p", "m"), ChatRequest(messages=[Message.user("hi")])
    b = _half_open(store, clock)
    b.before_attempt(dep, ask)  # this process dies holding the probe
    with pytest.raises(CandidateSkipped, match="probe in flight"):
        b.before_attempt(dep, ask)
    assert b.skip_reason(dep, ask) == "circuit half-open: probe in flight"
    clock[0] += 10.5  # the probe's admission outlived the cooldown
    assert b.skip_reason(dep, ask) is None
    assert b.before_attempt(dep, ask) is not None  # a new probe goes
