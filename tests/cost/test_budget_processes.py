"""One budget, 4 processes, 200 concurrent calls: the SQLite and Redis state backends
hold it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

from polyroute.state.base import StateStore
from polyroute.state.sqlite import SQLiteStore
from polyroute.testing.standin import StandinServer

SUPPORT = Path(__file__).resolve().parents[1] / "support"
LIMIT = 0.5
RESERVATION = 0.018  # 8 estimated prompt tokens + 10 max output, at $1000/MTok
CALL_COST = 0.006

CHILD = textwrap.dedent("""
    import json, sys, threading
    sys.path.insert(0, sys.argv[1])
    import echo_provider
    from polyroute.errors import BudgetExceeded
    from polyroute.plugins import PluginRegistry
    from polyroute.router import Router
    from polyroute.types import ChatRequest, GenerationParams, Message, RoutingHints

    url, state, limit = sys.argv[2], json.loads(sys.argv[3]), float(sys.argv[4])
    per = sys.argv[5] if len(sys.argv) > 5 else "total"
    router = Router({
        "providers": {"a": {"type": "echo", "base_url": url}},
        "agents": {"bot": {"model": "a:m"}},
        "pricing": {"overrides": {"a:m": {"input": 1000, "output": 1000}}},
        "budgets": [{"scope": "global", "usd": limit, "per": per}],
        "state": state,
        # a transient connection failure is retried (its reservation released), so
        # every call ends answered or refused by the budget; anything else is reported
        "retry": {"attempts": 3, "initial_backoff": 0.05},
    }, registry=PluginRegistry.create(load_entrypoints=False, plugins=[echo_provider]))
    costs, refused, other, lock = [], [0], [], threading.Lock()
    go = threading.Barrier(10)

    def worker():
        go.wait()
        for _ in range(5):
            req = ChatRequest(messages=[Message.user("hi")],
                              params=GenerationParams(max_tokens=10),
                              routing=RoutingHints(agent="bot"))
            try:
                cost = router.chat(req).cost_usd
            except BudgetExceeded:
                with lock:
                    refused[0] += 1
                continue
            except Exception as exc:  # reported, so a failure says what went wrong
                with lock:
                    other.append(f"{type(exc).__name__}: {exc}")
                continue
            with lock:
                costs.append(cost)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"costs": costs, "refused": refused[0], "other": other}))
""")


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[dict[str, Any], StateStore]:
    """The state config the processes share, and a store to read the result from."""
    if request.param == "sqlite":
        path = tmp_path / "state.db"
        return {"backend": "sqlite", "path": str(path)}, SQLiteStore(path)
    from polyroute.state.redis import RedisStore

    url, prefix = request.getfixturevalue("redis_url")
    return {"backend": "redis", "url": url, "prefix": prefix}, RedisStore(url, prefix=prefix)


def _four_processes(primary: StandinServer, state: dict[str, Any],
                    per: str) -> tuple[list[float], int]:
    """4 processes x 10 threads x 5 calls on one budget: (costs answered, refused)."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(SUPPORT), primary.url, json.dumps(state),
             str(LIMIT), per],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(4)
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=60)
        assert p.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert [e for r in results for e in r["other"]] == []
    return [c for r in results for c in r["costs"]], sum(r["refused"] for r in results)


@pytest.mark.standin
def test_200_calls_from_4_processes_never_overspend(
    primary: StandinServer, backend: tuple[dict[str, Any], StateStore]
) -> None:
    state, store = backend
    costs, refused = _four_processes(primary, state, "total")
    assert len(costs) + refused == 200
    assert all(c == pytest.approx(CALL_COST) for c in costs)
    total = sum(costs)
    recorded = store.get("budget:global:total")
    assert recorded == pytest.approx(total)  # every reservation settled or released
    # never over the limit by more than one in-flight reservation (here: not at all)
    assert total <= LIMIT + RESERVATION
    assert total <= LIMIT + 1e-9
    # and the budget was used, not wasted: a refusal only happens when the in-flight
    # reservations (up to 40 calls at once, each holding $0.012 over its actual cost)
    # leave no room, so what is left unspent is at most those holds
    assert total > LIMIT - 40 * (RESERVATION - CALL_COST)
    assert refused > 0


def test_sqlite_store_is_atomic_across_threads(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    granted: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        own = SQLiteStore(tmp_path / "s.db")  # a second handle, as another process would have
        for _ in range(25):
            ok = own.reserve("b", 0.7, limit=20.0)
            with lock:
                granted.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 28  # floor(20 / 0.7)
    assert store.get("b") == pytest.approx(28 * 0.7)
    assert store.incr("b", -0.7) == pytest.approx(27 * 0.7)


def test_sqlite_store_ttl_set_get_delete(tmp_path: Path) -> None:
    now = [1000.0]
    store = SQLiteStore(tmp_path / "s.db", clock=lambda: now[0])
    store.set("k", {"state": "open"}, ttl=30)
    assert store.get("k") == {"state": "open"}
    now[0] += 31
    assert store.get("k") is None
    assert store.incr("w", 2, ttl=10) == 2
    now[0] += 5
    assert store.incr("w", 3, ttl=10) == 5  # the first TTL is kept
    now[0] += 6
    assert store.get("w") is None
    assert store.purge_expired() == 2
    store.set("x", [1, 2])
    store.delete("x")
    assert store.get("x") is None
    store.close()


def test_sqlite_store_waits_out_a_held_lock(tmp_path: Path) -> None:
    import sqlite3

    store = SQLiteStore(tmp_path / "s.db")
    other = sqlite3.connect(str(tmp_path / "s.db"), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    done: list[bool] = []
    t = threading.Thread(target=lambda: done.append(store.reserve("b", 1.0, limit=5.0)))
    t.start()
    t.join(0.3)
    assert done == []  # waiting, not failing
    other.execute("COMMIT")
    t.join(10)
    assert done == [True]
    assert store.get("b") == 1.0


def test_sqlite_store_failure_is_typed_and_names_the_file(tmp_path: Path) -> None:
    import sqlite3

    from polyroute.errors import StateStoreError

    store = SQLiteStore(tmp_path / "s.db", timeout=0.2)
    other = sqlite3.connect(str(tmp_path / "s.db"), isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(StateStoreError) as err:
        store.reserve("b", 1.0, limit=5.0)
    assert str(tmp_path / "s.db") in str(err.value) and "reserve failed" in str(err.value)
    other.execute("ROLLBACK")
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StateStoreError, match=r"dir\.db: open failed"):
        SQLiteStore(tmp_path / "dir.db")


@pytest.mark.standin
def test_a_leased_daily_budget_from_4_processes_never_overspends(
    primary: StandinServer, redis_url: tuple[str, str],
) -> None:
    """A budget that resets (per: day) is leased on Redis: each process reserves
    several calls' worth at once. Across 4 processes it still never overspends, and
    every unused lease is back once they exit."""
    from polyroute.state.redis import RedisStore

    url, prefix = redis_url
    state = {"backend": "redis", "url": url, "prefix": prefix}
    costs, refused = _four_processes(primary, state, "day")
    assert len(costs) + refused == 200
    total = sum(costs)
    assert total <= LIMIT + 1e-9
    assert refused > 0
    store = RedisStore(url, prefix=prefix)
    try:
        keys = [k.decode()[len(prefix):] for k in store._redis.scan_iter(
            match=prefix + "budget:global:day:*") if not k.decode().endswith(":spent")]
        assert len(keys) == 1, keys
        assert store.get(keys[0]) == pytest.approx(total)  # leases given back at exit
        assert store.get(keys[0] + ":spent") == pytest.approx(total)
    finally:
        store.close()
