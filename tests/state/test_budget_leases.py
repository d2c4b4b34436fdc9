"""Budget leases on Redis: several calls' worth reserved at once, served without a round
trip, given back when unused; the limit holds across processes all the same."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyroute.errors import StateStoreError

TTL = 3600.0


@pytest.fixture
def stores(redis_url: tuple[str, str]) -> Iterator[Any]:
    from polyroute.state.redis import RedisStore

    url, prefix = redis_url
    made: list[Any] = []

    def make(lease_calls: int = 16) -> Any:
        s = RedisStore(url, prefix=prefix, write_behind=60.0, lease_calls=lease_calls)
        made.append(s)
        return s

    make.plain = make(0)  # type: ignore[attr-defined]
    yield make
    for s in made:
        s.close()


def _counted(store: Any, method: str) -> list[int]:
    """Count the store's round trips through ``method`` (``_run`` / ``_execute``)."""
    calls: list[int] = []
    real = getattr(store, method)

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    setattr(store, method, counting)
    return calls


def test_one_process_serves_most_reservations_from_its_lease(stores: Any) -> None:
    me = stores()
    trips = _counted(me, "_run")
    granted = sum(me.reserve_leased("budget:d", 1.0, 1000.0, TTL) for _ in range(160))
    assert granted == 160
    assert len(trips) <= 12  # ~16 calls per lease, not one round trip each
    assert stores.plain.number("budget:d") <= 160 + 16  # reserved: used + one lease


def test_one_process_can_still_use_the_whole_budget(stores: Any) -> None:
    me = stores()
    granted = sum(me.reserve_leased("budget:d", 1.0, 10.0, TTL) for _ in range(15))
    assert granted == 10  # leases shrink near the limit: none of the room is stranded
    assert stores.plain.number("budget:d") == pytest.approx(10.0)


def test_unused_leases_go_back_at_close_and_at_exit(redis_url: tuple[str, str],
                                                    stores: Any) -> None:
    me = stores()
    assert me.reserve_leased("budget:c", 1.0, 1000.0, TTL)
    assert stores.plain.number("budget:c") > 1.0  # a lease: more than this call
    me.close()
    assert stores.plain.number("budget:c") == pytest.approx(1.0)
    url, prefix = redis_url
    code = ("from polyroute.state.redis import RedisStore;"
            f"s = RedisStore({url!r}, prefix={prefix!r});"
            "assert s.reserve_leased('budget:e', 1.0, 1000.0, 3600.0)")  # no close
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    assert stores.plain.number("budget:e") == pytest.approx(1.0)


def test_an_idle_lease_goes_back_within_a_second(stores: Any) -> None:
    me = stores()
    assert me.reserve_leased("budget:a", 1.0, 1000.0, TTL)
    assert stores.plain.number("budget:a") > 1.0
    deadline = time.monotonic() + 10
    while stores.plain.number("budget:a") != 1.0 and time.monotonic() < deadline:
        time.sleep(0.1)
        me.flush()  # what the sweeper gave back is held until sent
    assert stores.plain.number("budget:a") == pytest.approx(1.0)


def test_a_budget_that_never_resets_is_not_leased(stores: Any) -> None:
    me = stores()
    assert me.reserve_leased("budget:total", 1.0, 1000.0, None)
    assert stores.plain.number("budget:total") == 1.0


def test_a_corrupt_counter_is_refused_typed(stores: Any) -> None:
    me = stores()
    stores.plain._redis.set(stores.plain._k("budget:x"), "oops")
    with pytest.raises(StateStoreError, match="budget:x"):
        me.reserve_leased("budget:x", 1.0, 1000.0, TTL)
    stores.plain._redis.set(stores.plain._k("budget:y"), "-5")  # below the floor
    with pytest.raises(StateStoreError, match="budget:y"):
        me.reserve_leased("budget:y", 1.0, 1000.0, TTL, floor=-1e-6)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls=st.lists(st.tuples(st.integers(0, 2),
                                st.floats(0.01, 3.0).map(lambda x: round(x, 2))),
                      min_size=1, max_size=60),
       limit=st.floats(1.0, 20.0).map(lambda x: round(x, 2)))
def test_processes_never_reserve_past_the_limit(stores: Any, calls: list[tuple[int, float]],
                                                limit: float) -> None:
    plain = stores.plain
    plain.delete("budget:p")
    procs = [stores() for _ in range(3)]
    used = 0.0
    for who, amount in calls:
        if procs[who].reserve_leased("budget:p", amount, limit, TTL):
            used += amount
        assert plain.number("budget:p") <= limit + 1e-9  # leases included
    assert used <= limit + 1e-9
    for p in procs:
        p.return_leases()
    assert plain.number("budget:p") == pytest.approx(used, abs=1e-6)
    for p in procs:
        p.close()


# --- a sliding window's requests and tokens, leased the same way ------------------------

def _pair(n_tok: float, rpm: float = 1000.0, tpm: float = 100_000.0) -> list[Any]:
    return [("rl:x:req:5", "rl:x:req:4", 1.0, rpm), ("rl:x:tok:5", "rl:x:tok:4", n_tok, tpm)]


def test_a_rate_limit_is_served_from_leases(stores: Any) -> None:
    me = stores()
    trips = _counted(me, "_execute")
    got = [me.reserve_sliding_leased(_pair(100.0), 1.0, 120.0) for _ in range(160)]
    assert all(done for pair in got for done, _ in pair)
    assert len(trips) <= 12  # both windows leased ~16 calls at a time, in one trip
    me.close()
    assert stores.plain.number("rl:x:req:5") == pytest.approx(160.0)  # leases given back
    assert stores.plain.number("rl:x:tok:5") == pytest.approx(16_000.0)


def test_a_leased_rate_limit_admits_exactly_its_limit(stores: Any) -> None:
    me = stores()
    admitted = 0
    for _ in range(15):
        (req, tok) = me.reserve_sliding_leased(_pair(1.0, rpm=10.0), 1.0, 120.0)
        admitted += req[0] and tok[0]
    assert admitted == 10


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 50)), min_size=1,
                      max_size=50),
       prev=st.integers(0, 30), carry=st.floats(0.0, 1.0))
def test_processes_never_pass_a_sliding_limit(stores: Any, calls: list[tuple[int, int]],
                                              prev: int, carry: float) -> None:
    plain = stores.plain
    for k in ("rl:x:req:5", "rl:x:tok:5"):
        plain.delete(k)
    plain.set("rl:x:req:4", prev)
    plain.set("rl:x:tok:4", prev * 10)
    procs = [stores() for _ in range(3)]
    rpm, tpm = 40.0, 400.0
    for who, tokens in calls:
        procs[who].reserve_sliding_leased(_pair(float(tokens), rpm, tpm), carry, 120.0)
        assert plain.number("rl:x:req:5") <= max(0.0, rpm - prev * carry) + 1 + 1e-9
        assert plain.number("rl:x:tok:5") <= max(0.0, tpm - prev * 10 * carry) + 50 + 1e-9
    for p in procs:
        p.close()


def test_a_lease_given_back_to_a_reset_key_leaves_it_at_zero(stores: Any) -> None:
    me = stores()
    assert me.reserve_leased("budget:r", 1.0, 1000.0, TTL)
    stores.plain.delete("budget:r")  # an operator resets the counter by hand
    stores.plain.set("budget:r", 0.5)
    me.return_leases()
    assert stores.plain.number("budget:r") == 0.0  # not negative: nothing corrupt
    assert me.reserve_leased("budget:r", 1.0, 1000.0, TTL)


def test_an_idle_lease_goes_back_with_no_further_call(stores: Any) -> None:
    me = stores(lease_calls=16)
    assert me.reserve_sliding_leased(_pair(1.0), 1.0, 120.0)[0][0]
    me._held.delay = 0.01  # send what is given back at once
    deadline = time.monotonic() + 5
    while stores.plain.number("rl:x:req:5") != 1.0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stores.plain.number("rl:x:req:5") == pytest.approx(1.0)


def test_a_forked_child_does_not_serve_from_its_parents_lease(stores: Any) -> None:
    me = stores()
    assert me.reserve_leased("budget:f", 1.0, 1000.0, TTL)
    before = stores.plain.number("budget:f")
    me._lease_pid = -1  # as in a forked child (a real fork of the threaded test may hang)
    assert me.reserve_leased("budget:f", 1.0, 1000.0, TTL)
    assert stores.plain.number("budget:f") > before  # it leased its own


def test_a_throttled_rate_limit_gives_its_leases_back(stores: Any) -> None:
    me = stores()
    assert me.reserve_sliding_leased(_pair(1.0), 1.0, 120.0)[0][0]
    assert me.reserve_leased("budget:keep", 1.0, 1000.0, TTL)
    me.give_back_leases("rl:x:")  # a 429 lowered the share: send no more on old leases
    me.flush()
    assert stores.plain.number("rl:x:req:5") == pytest.approx(1.0)
    assert stores.plain.number("budget:keep") > 1.0  # other leases stay
