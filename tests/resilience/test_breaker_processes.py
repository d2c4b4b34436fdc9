"""Breaker transitions are compare-and-set: processes sharing a SQLite file or a
Redis server, released together at a barrier, never both open one circuit (one
alert, one reopen count) and never both pass a half-open probe."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

import pytest
from breaker_race import race

from polyroute.state.base import StateStore
from polyroute.state.sqlite import SQLiteStore

PROCESSES = 3
ROUNDS = 25
Redis = tuple[str, str]


@pytest.fixture(params=["sqlite", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str, str]:
    if request.param == "sqlite":
        return "sqlite", str(tmp_path / "state.db"), ""
    url, prefix = request.getfixturevalue("redis_url")
    return "redis", url, prefix


def _store(kind: str, where: str, prefix: str) -> StateStore:
    if kind == "sqlite":
        return SQLiteStore(where)
    from polyroute.state.redis import RedisStore

    return RedisStore(where, prefix=prefix)


def _play(scenario: str, backend: tuple[str, str, str]) -> list[tuple[int, int]]:
    ctx = multiprocessing.get_context("spawn")  # no threads inherited mid-lock
    # "reopen" meets twice per round for the processes admitted: only 2 probes, so
    # only 2 processes play it
    n = 2 if scenario == "reopen" else PROCESSES
    barrier, results = ctx.Barrier(n), ctx.Queue()
    procs = [ctx.Process(target=race, args=(scenario, *backend, ROUNDS, barrier, results))
             for _ in range(n)]
    for p in procs:
        p.start()
    out = [results.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    return out


def _half_open(backend: tuple[str, str, str]) -> StateStore:
    store = _store(*backend)
    for r in range(ROUNDS):  # every round's circuit: cooldown over, no probe yet
        store.set(f"cb:p/m{r}", {"until": time.time() - 1, "n": 0, "why": "test"})
    return store


def test_a_circuit_opens_once_however_many_processes_see_it_fail(
        backend: tuple[str, str, str]) -> None:
    out = _play("open", backend)
    assert sum(alerts for alerts, _ in out) == ROUNDS  # one alert per circuit, not per process
    store = _store(*backend)
    assert all(store.get(f"cb:p/m{r}")["n"] == 0 for r in range(ROUNDS))
    store.close()


def test_a_half_open_circuit_admits_one_probe_across_processes(
        backend: tuple[str, str, str]) -> None:
    _half_open(backend).close()
    out = _play("probe", backend)
    assert sum(admitted for _, admitted in out) == ROUNDS  # exactly one per circuit
    store = _store(*backend)
    assert all(store.get(f"cb:p/m{r}")["probes"] == 1 for r in range(ROUNDS))
    store.close()


def test_two_failed_probes_reopen_the_circuit_once(backend: tuple[str, str, str]) -> None:
    _half_open(backend).close()
    out = _play("reopen", backend)
    assert sum(admitted for _, admitted in out) == 2 * ROUNDS  # half_open_probes: 2
    assert sum(alerts for alerts, _ in out) == ROUNDS  # one reopening each, not two
    store = _store(*backend)
    records: list[Any] = [store.get(f"cb:p/m{r}") for r in range(ROUNDS)]
    store.close()
    assert all(rec["n"] == 1 for rec in records)  # the cooldown grew once, not twice
