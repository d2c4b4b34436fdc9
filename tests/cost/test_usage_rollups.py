"""Hourly rollups of the ledger: the usage figures they give equal the raw rows' (counts,
tokens and costs exactly; percentiles within the histogram's bound), across partial
hours, replaced rows, an old ledger folded on start, retention, and a killed writer."""

from __future__ import annotations

import math
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from polyroute.analytics import stats as stats_mod
from polyroute.analytics.stats import usage_stats
from polyroute.config.cost import BudgetConfig
from polyroute.ledger.store import CALL_COLUMNS, Ledger, connect_ledger

NOW = 1_796_000_000.0 + 1234.5  # not on an hour boundary
BOUND = 0.026  # each rank read as its 5 %-wide bucket's centre: within 2.5 %


def call_row(rng: random.Random, i: int, ts: float) -> tuple[Any, ...]:
    status = "error" if rng.random() < 0.1 else "ok"
    hit = status == "ok" and rng.random() < 0.1
    stream = rng.random() < 0.3
    latency = rng.choice([None, rng.lognormvariate(6, 1)]) if rng.random() < 0.05 else \
        rng.lognormvariate(6, 1)
    row = {"id": f"c{i}", "ts": ts, "agent": rng.choice(["coder", "writer", None]),
           "task": None, "route": rng.choice(["fast", None]),
           "provider": rng.choice(["openai", "anthropic"]),
           "model": rng.choice(["m1", "m2"]), "input_tokens": rng.randint(0, 5000),
           "output_tokens": rng.randint(0, 900), "cached_tokens": rng.choice([0, 100]),
           "cache_write_tokens": 0, "reasoning_tokens": rng.choice([0, 0, 50]),
           "cost_usd": None if rng.random() < 0.05 else round(rng.random() / 100, 6),
           "cost_saved_usd": 0.001 if hit else 0.0, "price_known": 1,
           "latency_ms": latency,
           "ttft_ms": (latency or 0) * 0.3 if stream and latency else None,
           "status": status, "error": "ServerError" if status == "error" else None,
           "attempts": 1, "fallback": int(rng.random() < 0.2), "cache_hit": int(hit),
           "stream": int(stream), "tags": '{"team": "a"}' if rng.random() < 0.5 else None,
           "tenant": rng.choice(["acme", "globex", None]), "prompt": None, "answer": None}
    return tuple(row.get(c) for c in CALL_COLUMNS)  # later columns: NULL


def fill(path: Path, n: int = 3000, seed: int = 5) -> None:
    rng = random.Random(seed)
    ledger = Ledger(path, retention_days=None)
    for i in range(n):
        ledger.record(call_row(rng, i, NOW - rng.random() * 3 * 86400))
    # a call recorded again under the same id (its share must leave the rollup first)
    for i in range(0, 200, 7):
        ledger.record(call_row(rng, i, NOW - rng.random() * 86400))
    assert ledger.flush()
    ledger.close()


def both(path: Path, monkeypatch: pytest.MonkeyPatch, **kw: Any) -> tuple[Any, Any]:
    monkeypatch.setattr(stats_mod, "ROLLUP_FROM", 10**9)
    raw = usage_stats(path, now=NOW, **kw)
    monkeypatch.setattr(stats_mod, "ROLLUP_FROM", 0)
    rolled = usage_stats(path, now=NOW, **kw)
    return raw, rolled


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=BOUND, abs_tol=1e-9)


def assert_same(raw: Any, rolled: Any) -> None:
    assert [g.key for g in raw.groups] == [g.key for g in rolled.groups]
    for r, o in zip([*raw.groups, raw.total], [*rolled.groups, rolled.total], strict=True):
        for name in ("requests", "succeeded", "failed", "input_tokens", "output_tokens",
                     "cached_tokens", "reasoning_tokens", "unpriced"):
            assert getattr(r, name) == getattr(o, name), (r.key, name)
        for name in ("cost_usd", "saved_usd", "success_rate", "fallback_rate",
                     "cache_hit_rate", "cost_per_success", "tokens_per_usd", "tokens_per_s"):
            a, b = getattr(r, name), getattr(o, name)
            assert (a is None and b is None) or math.isclose(a, b, rel_tol=1e-9,
                                                             abs_tol=1e-12), (r.key, name)
        for name in ("p50_ms", "p95_ms", "ttft_p50_ms"):
            assert close(getattr(r, name), getattr(o, name)), (r.key, name, getattr(r, name),
                                                              getattr(o, name))
    assert math.isclose(raw.burn_rate_usd_per_day, rolled.burn_rate_usd_per_day, rel_tol=1e-9)
    assert math.isclose(raw.month_to_date_usd, rolled.month_to_date_usd, rel_tol=1e-9)
    assert [d["day"] for d in raw.daily] == [d["day"] for d in rolled.daily]
    for r, o in zip(raw.daily, rolled.daily, strict=True):
        assert r["cost_by_provider"].keys() == o["cost_by_provider"].keys()
        for k, v in r["cost_by_provider"].items():
            assert math.isclose(v, o["cost_by_provider"][k], rel_tol=1e-9)
        assert close(r["p50_ms"], o["p50_ms"]) and close(r["p95_ms"], o["p95_ms"])
    for r, o in zip(raw.budgets, rolled.budgets, strict=True):
        assert math.isclose(r.spent_usd, o.spent_usd, rel_tol=1e-9, abs_tol=1e-12), r.scope


@pytest.mark.parametrize("by", ["model", "provider", "agent", "route", "tenant", "day"])
def test_rollup_figures_equal_the_raw_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          by: str) -> None:
    path = tmp_path / "usage.db"
    fill(path)
    budgets = [BudgetConfig(usd=10, per="day", scope=s) for s in
               ("global", "provider:openai", "agent:coder", "model:anthropic/m2",
                "tag:team=a")]
    for since in ("30d", "36h", 1234.0 + NOW - 50_000, None, "10m", "30m"):
        raw, rolled = both(path, monkeypatch, by=by, since=since, budgets=budgets)
        assert raw.total.requests > (0 if since in ("10m", "30m") else 100)
        assert_same(raw, rolled)


def test_an_old_ledger_is_folded_when_its_writer_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "usage.db"
    conn = connect_ledger(path)
    rng = random.Random(9)
    with conn:  # rows as a ledger from before rollups holds them
        conn.executemany(f"INSERT INTO calls ({', '.join(CALL_COLUMNS)}) VALUES "
                         f"({', '.join('?' * len(CALL_COLUMNS))})",
                         [call_row(rng, i, NOW - rng.random() * 86400) for i in range(500)])
    conn.close()
    monkeypatch.setattr(stats_mod, "ROLLUP_FROM", 0)
    unfolded = usage_stats(path, now=NOW, since=None)  # not built: read from the rows
    ledger = Ledger(path, retention_days=None)
    ledger.record(call_row(rng, 10_000, NOW - 10))
    assert ledger.flush()
    ledger.close()
    raw, rolled = both(path, monkeypatch, since=None)
    assert rolled.total.requests == unfolded.total.requests + 1 == 501
    assert_same(raw, rolled)


def test_retention_deletes_whole_hours_from_both(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "usage.db"
    rng = random.Random(3)
    ledger = Ledger(path, retention_days=None)
    now = time.time()
    for i in range(400):
        ledger.record(call_row(rng, i, now - rng.random() * 4 * 86400))
    assert ledger.flush()
    ledger.close()
    Ledger(path, retention_days=2).record(call_row(rng, 999, now))  # its writer prunes
    time.sleep(0.2)
    conn = sqlite3.connect(path)
    try:
        calls = conn.execute("SELECT COUNT(*), SUM(cost_usd) FROM calls").fetchone()
        rolled = conn.execute("SELECT SUM(requests), SUM(cost_usd + failed_cost_usd) "
                              "FROM usage_hourly").fetchone()
    finally:
        conn.close()
    assert calls[0] < 401 and calls[0] == rolled[0]
    assert math.isclose(calls[1], rolled[1], rel_tol=1e-9)


_WRITER = """
import random, sys, time
sys.path.insert(0, {tests!r})
from cost.test_usage_rollups import call_row
from polyroute.ledger.store import Ledger
ledger = Ledger({path!r}, retention_days=None)
rng = random.Random(1)
i = 0
while True:
    ledger.record(call_row(rng, i, time.time() - rng.random() * 7200))
    i += 1
    if i % 200 == 0:
        print(ledger.written, flush=True)
        time.sleep(0.001)
"""


def test_a_killed_writer_leaves_rows_and_rollups_in_agreement(tmp_path: Path) -> None:
    path = tmp_path / "usage.db"
    script = _WRITER.format(tests=str(Path(__file__).resolve().parents[1]), path=str(path))
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.stdout is not None
    for line in proc.stdout:  # once a thousand rows are committed, kill -9 mid-stream
        if int(line) >= 1000:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    conn = sqlite3.connect(path)
    try:
        n, cost = conn.execute("SELECT COUNT(*), COALESCE(SUM(cost_usd), 0) FROM calls"
                               ).fetchone()
        per_hour = dict(conn.execute("SELECT CAST(ts / 3600 AS INTEGER) AS h, COUNT(*) "
                                     "FROM calls GROUP BY h").fetchall())
        r_n, r_cost = conn.execute("SELECT SUM(requests), SUM(cost_usd + failed_cost_usd) "
                                   "FROM usage_hourly").fetchone()
        r_hour = dict(conn.execute("SELECT hour, SUM(requests) FROM usage_hourly "
                                   "GROUP BY hour").fetchall())
    finally:
        conn.close()
    assert n >= 1000 and r_n == n and math.isclose(cost, r_cost, rel_tol=1e-9)
    assert {h: int(v) for h, v in r_hour.items()} == per_hour
