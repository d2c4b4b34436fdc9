"""Retention: ``polyroute purge`` and the cache purge when a router opens it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from polyroute.cache.store import ResponseCache
from polyroute.config.loader import config_from_data
from polyroute.errors import ConfigError
from polyroute.ledger.store import ATTEMPT_COLUMNS, CALL_COLUMNS, connect_ledger
from polyroute.privacy.retention import purge

DAY = 86400.0


def seed_ledger(path: Path, ages_days: dict[str, float]) -> None:
    conn = connect_ledger(path)
    now = time.time()
    for call_id, age in ages_days.items():
        row = [None] * len(CALL_COLUMNS)
        row[0], row[1] = call_id, now - age * DAY
        conn.execute(f"INSERT INTO calls VALUES ({', '.join('?' * len(row))})", row)
        attempt = [None] * len(ATTEMPT_COLUMNS)
        attempt[0], attempt[1], attempt[2] = call_id, 1, now - age * DAY
        conn.execute(f"INSERT INTO attempts VALUES ({', '.join('?' * len(attempt))})", attempt)
    conn.close()


def seed_cache(directory: Path, ages_days: dict[str, float]) -> None:
    store = ResponseCache(directory)
    now = time.time()
    for key, age in ages_days.items():
        store.set(key, json.dumps({"answer": key}), ttl=None)
        store._cache._sql("UPDATE Cache SET store_time = ? WHERE key = ?", (now - age * DAY, key))
    store.close()


def ids(path: Path) -> list[str]:
    conn = connect_ledger(path)
    try:
        return sorted(r[0] for r in conn.execute("SELECT id FROM calls"))
    finally:
        conn.close()


def cache_keys(directory: Path) -> list[str]:
    store = ResponseCache(directory)
    try:
        return sorted(k for (k,) in store._cache._sql("SELECT key FROM Cache").fetchall())
    finally:
        store.close()


@pytest.fixture
def data(tmp_path: Path) -> dict[str, object]:
    seed_ledger(tmp_path / "usage.db", {"old": 120, "recent": 2, "edge": 29})
    seed_cache(tmp_path / "cache", {"a" * 64: 45, "b" * 64: 1})
    return {"ledger": {"path": str(tmp_path / "usage.db"), "retention_days": 30},
            "cache": {"directory": str(tmp_path / "cache"), "retention_days": 30}}


def test_purge_deletes_what_is_past_each_retention(data: dict[str, object],
                                                   tmp_path: Path) -> None:
    report = purge(config_from_data(data))
    assert (report.ledger_calls, report.ledger_attempts, report.cache_entries) == (1, 1, 1)
    assert ids(tmp_path / "usage.db") == ["edge", "recent"]
    assert cache_keys(tmp_path / "cache") == ["b" * 64]


def test_dry_run_counts_and_deletes_nothing(data: dict[str, object], tmp_path: Path) -> None:
    report = purge(config_from_data(data), dry_run=True, older_than_days=10)
    assert (report.ledger_calls, report.cache_entries) == (2, 1)
    assert ids(tmp_path / "usage.db") == ["edge", "old", "recent"]


@pytest.mark.parametrize("days", [0, -1, float("nan"), float("inf")])
def test_a_nonsense_age_is_a_typed_error(data: dict[str, object], days: float) -> None:
    with pytest.raises(ConfigError, match="--older-than"):
        purge(config_from_data(data), older_than_days=days)


def test_a_router_opening_the_cache_drops_entries_past_retention(
        data: dict[str, object], tmp_path: Path) -> None:
    from polyroute.router import Router

    with Router({"cache": data["cache"]}):
        pass
    assert cache_keys(tmp_path / "cache") == ["b" * 64]


def test_the_command_reports_and_json(run: Callable[..., object], data: dict[str, object],
                                      write_config: Callable[..., str]) -> None:
    path = write_config(data)
    dry = run("purge", "--config", path, "--dry-run")
    assert "would delete: 1 ledger call(s), 1 attempt(s), 1 cached answer(s)" in dry.output  # type: ignore[attr-defined]
    done = run("purge", "--config", path, "--json")
    assert json.loads(done.output)["ledger_calls"] == 1  # type: ignore[attr-defined]
    again = run("purge", "--config", path)
    assert "deleted: 0 ledger call(s)" in again.output  # type: ignore[attr-defined]


def test_purge_mid_day_keeps_hour_and_day_rollups_equal_to_the_rows(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch
                                                                    ) -> None:
    from polyroute.analytics import stats as stats_mod
    from polyroute.analytics.stats import usage_stats
    from polyroute.ledger.rollup_days import days_current
    from polyroute.ledger.store import Ledger, rollups_current
    from polyroute.privacy.retention import purge_ledger

    path, now = tmp_path / "usage.db", time.time()
    ledger = Ledger(path, retention_days=None, sync=True)
    for i in range(300):  # four days of calls, one every ~20 minutes
        row = dict.fromkeys(CALL_COLUMNS)
        row.update(id=f"c{i}", ts=now - i * 1153.0, provider="openai", model="m",
                   status="ok", cost_usd=0.001 * (1 + i % 5), latency_ms=100.0 + i,
                   input_tokens=10, output_tokens=5)
        ledger.record(tuple(row[c] for c in CALL_COLUMNS))
    ledger.close()
    purge_ledger(path, now - 1.6 * DAY)  # falls inside a UTC day
    with connect_ledger(path) as conn:
        assert rollups_current(conn) and days_current(conn)
    fast = usage_stats(path, by="day", since=None, now=now)
    monkeypatch.setattr(stats_mod, "rollups_current", lambda *a, **k: False)
    slow = usage_stats(path, by="day", since=None, now=now)
    assert [(g.key, g.requests, g.cost_usd) for g in fast.groups] == [
        (g.key, g.requests, g.cost_usd) for g in slow.groups]
