"""The in-process StateStore: TTLs on an injected clock, atomic incr and reserve."""

from __future__ import annotations

import threading

from polyroute.state.memory import MemoryStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_get_set_delete_and_ttl() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    store.set("k", {"state": "open"}, ttl=30)
    assert store.get("k") == {"state": "open"}
    clock.now += 29.9
    assert store.get("k") == {"state": "open"}
    clock.now += 0.2
    assert store.get("k") is None
    store.set("k", 1)
    store.delete("k")
    assert store.get("k") is None


def test_incr_keeps_the_first_ttl() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    assert store.incr("w", 2, ttl=10) == 2
    clock.now += 5
    assert store.incr("w", 3, ttl=10) == 5
    clock.now += 5
    assert store.get("w") is None  # the window closed 10 s after it opened
    assert store.incr("w", 1, ttl=10) == 1


def test_reserve_is_all_or_nothing() -> None:
    store = MemoryStore()
    assert store.reserve("b", 6, limit=10)
    assert not store.reserve("b", 5, limit=10)
    assert store.get("b") == 6
    assert store.reserve("b", 4, limit=10)
    assert store.incr("b", -4) == 6  # settle: give back what was not spent


def test_concurrent_reservations_never_exceed_the_limit() -> None:
    store = MemoryStore()
    granted: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(100):
            ok = store.reserve("budget", 0.7, limit=50.0)
            with lock:
                granted.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 71 and store.get("budget") <= 50.0


# The store's fast path for plain finite numbers must not let anything else through.

def test_non_finite_values_and_amounts_are_still_refused() -> None:
    import math

    import pytest

    from polyroute.errors import StateStoreError

    store = MemoryStore()
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(StateStoreError, match="'k'"):
            store.set("k", bad)
        with pytest.raises(StateStoreError, match="'k'"):
            store.incr("k", bad)
        with pytest.raises(StateStoreError, match="'k'"):
            store.reserve("k", 1.0, bad)
        with pytest.raises(StateStoreError, match="'k'"):
            store.reserve("k", bad, 10.0)
    with pytest.raises(StateStoreError, match="'k'"):
        store.incr("k", True)  # a bool is not an amount
    with pytest.raises(StateStoreError, match="'k'"):
        store.set("k", {"x": math.nan})
    assert store.get("k") is None  # nothing refused was stored


def test_plain_numbers_and_json_values_round_trip() -> None:
    store = MemoryStore()
    for value in (0, -3, 2.5, 10**30, True, "text", [1, 2.0], {"a": [1]}):
        store.set("k", value)
        assert store.get("k") == value
    assert store.incr("n", 2) == 2.0 and store.incr("n", 0.5) == 2.5
    assert store.reserve("r", 1, 1) and not store.reserve("r", 1, 1)


def test_a_corrupt_counter_fails_closed_on_incr_and_reserve() -> None:
    import pytest

    from polyroute.errors import StateStoreError

    store = MemoryStore()
    store.set("c", "abc")
    with pytest.raises(StateStoreError, match="'c'"):
        store.incr("c", 1)
    with pytest.raises(StateStoreError, match="'c'"):
        store.reserve("c", 1, 10)
    store.set("c", -1.0)
    with pytest.raises(StateStoreError, match="'c'"):
        store.reserve("c", 1, 10, floor=0)
