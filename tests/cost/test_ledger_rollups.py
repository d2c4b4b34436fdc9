"""Usage figures from pre-aggregated rollups equal the figures from the raw rows:
counts, tokens and costs exactly, percentiles within ``LATENCY_ERROR``; also after a
crash mid-batch, a killed writer, rows replaced, rows pruned and an old ledger
backfilled."""

from __future__ import annotations

import math
import os
import random
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyroute.analytics import stats as stats_mod
from polyroute.analytics.stats import usage_stats
from polyroute.config.cost import BudgetConfig
from polyroute.ledger import rollup
from polyroute.ledger.rollup import LATENCY_ERROR, ExactSum, Latencies
from polyroute.ledger.rollup_days import days_current, prune_rollups
from polyroute.ledger.rollup_sums import _bin
from polyroute.ledger.store import CALL_COLUMNS, Ledger, connect_ledger, rollups_current

NOW = 1_780_000_000.0 + 1234.5  # not on an hour: every range has partial edges
_EXACT = ("requests", "succeeded", "failed", "input_tokens", "output_tokens",
          "cached_tokens", "reasoning_tokens", "cost_usd", "unpriced", "saved_usd",
          "success_rate", "fallback_rate", "cache_hit_rate", "cost_per_success",
          "tokens_per_usd", "tokens_per_s")


def _row(rnd: random.Random, i: int, ts: float) -> tuple[Any, ...]:
    status = rnd.choice(["ok", "ok", "ok", "error", None])
    latency = rnd.choice([rnd.expovariate(1 / 400), 0.3, 0.0, None, float("nan"),
                          rnd.uniform(1, 90_000)])
    row = {"id": f"c{i}", "ts": ts, "agent": rnd.choice(["a", "b", None, "ünï"]),
           "route": rnd.choice(["r1", None]), "provider": rnd.choice(["openai", "anth", None]),
           "model": rnd.choice(["m1", "m2", None]),
           "input_tokens": rnd.choice([0, 10, None, 2**62]), "output_tokens":
               rnd.choice([0, 7, 300, None]), "cached_tokens": rnd.choice([0, 3]),
           "reasoning_tokens": 0, "cost_usd": rnd.choice([None, 0.0, 1e-7 * i, -0.25,
                                                          0.1, 1e9 + 0.1, 3e-300]),
           "cost_saved_usd": rnd.choice([None, 0.001]), "price_known": 1,
           "latency_ms": latency, "ttft_ms": rnd.choice([None, 12.5, 250.0]),
           "status": status, "error": None, "attempts": 1, "fallback": rnd.choice([0, 1]),
           "cache_hit": rnd.choice([0, 0, 1]), "stream": 0, "tags": '{"team": "x"}',
           "tenant": rnd.choice([None, "t1", "t2"]), "prompt": None, "answer": None}
    return tuple(row.get(c) for c in CALL_COLUMNS)  # columns others add stay NULL


def _fill(path: Path, n: int, seed: int = 7, *, hours: float = 80.0) -> None:
    rnd = random.Random(seed)
    ledger = Ledger(path, retention_days=None)
    for i in range(n):
        ledger.record(_row(rnd, i, NOW - rnd.uniform(0, hours * 3600)))
    ledger.close()


def _report(path: Path, *, raw: bool, **kw: Any) -> Any:
    real = stats_mod.rollups_current
    if raw:
        stats_mod.rollups_current = lambda *a, **k: False  # type: ignore[assignment]
    try:
        return usage_stats(path, now=NOW, budgets=[
            BudgetConfig(scope="global", usd=10, per="day"),
            BudgetConfig(scope="provider:openai", usd=10, per="week"),
            BudgetConfig(scope="model:anth/m2", usd=10, per="day"),
            BudgetConfig(scope="tag:team=x", usd=10, per="day")], **kw)
    finally:
        stats_mod.rollups_current = real


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= LATENCY_ERROR * b * (1 + 1e-9) + 0.5  # the documented bound


def _assert_same(path: Path, **kw: Any) -> None:
    fast, slow = _report(path, raw=False, **kw), _report(path, raw=True, **kw)
    assert [g.key for g in fast.groups] == [g.key for g in slow.groups]
    for f, s in zip([*fast.groups, fast.total], [*slow.groups, slow.total], strict=True):
        for name in _EXACT:
            assert getattr(f, name) == getattr(s, name), (f.key, name)
        for name in ("p50_ms", "p95_ms", "ttft_p50_ms"):
            assert _close(getattr(f, name), getattr(s, name)), (f.key, name)
    assert [(b.budget, b.spent_usd) for b in fast.budgets] == [
        (b.budget, b.spent_usd) for b in slow.budgets]
    assert fast.burn_rate_usd_per_day == slow.burn_rate_usd_per_day
    assert fast.month_to_date_usd == slow.month_to_date_usd
    assert [d["cost_by_provider"] for d in fast.daily] == [
        d["cost_by_provider"] for d in slow.daily]
    for f, s in zip(fast.daily, slow.daily, strict=True):
        assert _close(f["p95_ms"], s["p95_ms"])


@pytest.mark.parametrize("by", ["model", "provider", "agent", "day", "route", "tenant"])
def test_rollups_equal_the_raw_rows(tmp_path: Path, by: str) -> None:
    path = tmp_path / "u.db"
    _fill(path, 3000)
    with connect_ledger(path) as conn:
        assert rollups_current(conn)
        hours = conn.execute("SELECT COUNT(DISTINCT bucket) FROM usage_rollup").fetchone()[0]
    assert hours >= 80  # the whole hours really are read from rollups
    with connect_ledger(path) as conn:
        assert days_current(conn)
        days = conn.execute("SELECT COUNT(DISTINCT bucket) FROM usage_rollup_day").fetchone()[0]
        src = stats_mod.UsageSource(conn, stats_mod.zone("UTC"))
        assert any(a.span == rollup.DAY_SECONDS for a in src.collect(NOW - 30 * 86400, NOW))
    assert days >= 3  # ... and the whole UTC days from the day rollups
    for since in ("30d", "26h", "90m", None):
        _assert_same(path, by=by, since=since)


def test_costs_are_the_correctly_rounded_sum(tmp_path: Path) -> None:
    path = tmp_path / "u.db"
    _fill(path, 2000, seed=3)
    with connect_ledger(path) as conn:
        costs = [c for (c,) in conn.execute(
            "SELECT cost_usd FROM calls WHERE cost_usd IS NOT NULL AND "
            "COALESCE(status, '') != 'error'")]
    report = _report(path, raw=False, since=None)
    assert report.total.cost_usd == math.fsum(costs)


def test_hour_offset_time_zones_use_rollups_and_half_hour_ones_stay_exact(
        tmp_path: Path) -> None:
    path = tmp_path / "u.db"
    _fill(path, 1500, seed=5)
    for tz in ("America/New_York", "Asia/Kolkata", "Asia/Kathmandu"):
        _assert_same(path, by="day", since="30d", timezone=tz)
    with connect_ledger(path) as conn:
        src = stats_mod.UsageSource(conn, stats_mod.zone("Asia/Kolkata"))
        aggs = src.collect(NOW - 86400 * 3, NOW, days=True)
    assert not any(a.whole for a in aggs)  # +05:30: a day starts mid-hour: raw rows


def test_a_crash_mid_batch_leaves_rows_and_rollups_together(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "u.db"
    _fill(path, 500)
    rnd = random.Random(11)
    calls = {"n": 0}
    real = rollup.apply_rows

    def crash_on_second(*a: Any, **k: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise sqlite_crash
        real(*a, **k)

    import sqlite3

    sqlite_crash = sqlite3.OperationalError("disk I/O error")
    monkeypatch.setattr("polyroute.ledger.store.apply_rows", crash_on_second)
    ledger = Ledger(path, retention_days=None, sync=True)
    for i in range(3):
        ledger.record(_row(rnd, 10_000 + i, NOW - 7200 - i))
    ledger.close()
    assert ledger.dropped == 1  # the crashed batch: counted, and not half-written
    with connect_ledger(path, create=False) as conn:
        assert rollups_current(conn)
        assert conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0] == 502
    _assert_same(path, by="model", since=None)


def test_a_killed_writer_leaves_consistent_rollups(tmp_path: Path) -> None:
    path = tmp_path / "u.db"
    script = textwrap.dedent(f"""
        import random, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_ledger_rollups import _row, NOW
        from polyroute.ledger.store import Ledger
        rnd = random.Random(1)
        ledger = Ledger({str(path)!r}, retention_days=None)
        i = 0
        while True:
            ledger.record(_row(rnd, i, NOW - rnd.uniform(0, 20 * 3600)))
            i += 1
            if i == 3000:
                ledger.flush()
                print("ready", flush=True)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"  # rows are being written now
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with connect_ledger(path, create=False) as conn:
        assert conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0] >= 3000
        assert rollups_current(conn)
    _assert_same(path, by="agent", since=None)


def test_a_replaced_row_counts_once(tmp_path: Path) -> None:
    path = tmp_path / "u.db"
    rnd = random.Random(2)
    ledger = Ledger(path, retention_days=None, sync=True)
    first = _row(rnd, 1, NOW - 5000)
    ledger.record(first)
    ledger.record((first[0], NOW - 9000, *_row(rnd, 2, 0)[2:]))  # same id, another hour
    ledger.close()
    report = _report(path, raw=False, since=None)
    assert report.total.requests == 1
    _assert_same(path, by="model", since=None)


def test_an_old_ledger_is_backfilled_on_open_and_read_raw_until_then(tmp_path: Path) -> None:
    path = tmp_path / "u.db"
    rnd = random.Random(4)
    with connect_ledger(path) as conn:  # rows written behind the writer's back
        conn.executemany(f"INSERT INTO calls VALUES ({', '.join('?' * len(CALL_COLUMNS))})",
                         [_row(rnd, i, NOW - rnd.uniform(0, 50 * 3600)) for i in range(800)])
        conn.commit()
        assert not rollups_current(conn)
    before = _report(path, raw=False, since=None)  # stale rollups are never read
    assert before.total.requests == 800
    Ledger(path, retention_days=None).close()  # opening the writer rebuilds them
    with connect_ledger(path, create=False) as conn:
        assert rollups_current(conn)
    _assert_same(path, by="provider", since=None)


def test_day_rollups_are_rebuilt_for_a_ledger_from_before_them_and_ignored_until_then(
        tmp_path: Path) -> None:
    path = tmp_path / "u.db"
    _fill(path, 1500, seed=11)
    with connect_ledger(path) as conn:  # as a ledger from before the day table looks
        conn.execute("DELETE FROM usage_rollup_day")
        conn.execute("DELETE FROM ledger_meta WHERE key = 'rollup_day_calls'")
        conn.commit()
        assert rollups_current(conn) and not days_current(conn)
    _assert_same(path, by="day", since=None)  # the hours, not the empty day table
    Ledger(path, retention_days=None).close()  # a writer of this release opens it
    with connect_ledger(path, create=False) as conn:
        assert days_current(conn)
        assert conn.execute("SELECT COUNT(*) FROM usage_rollup_day").fetchone()[0] > 0
    _assert_same(path, by="model", since=None)


def test_an_earlier_releases_writer_makes_readers_use_the_hours(tmp_path: Path) -> None:
    path = tmp_path / "u.db"
    _fill(path, 600, seed=12)
    rnd = random.Random(13)
    with connect_ledger(path) as conn:  # rows + hourly rollups + rollup_calls only
        conn.execute("BEGIN IMMEDIATE")
        rows = [_row(rnd, 10_000 + i, NOW - rnd.uniform(0, 70 * 3600)) for i in range(50)]
        conn.executemany(f"INSERT INTO calls VALUES ({', '.join('?' * len(CALL_COLUMNS))})",
                         rows)
        added = conn.execute(f"SELECT {', '.join(rollup.ROLLUP_SOURCE_COLUMNS)} FROM calls "
                             "WHERE id LIKE 'c1____'").fetchall()
        rollup.apply_groups(conn, "?", "usage_rollup", rollup._group(added), {})
        conn.execute("UPDATE ledger_meta SET value = CAST(CAST(value AS INTEGER) + 50 AS TEXT) "
                     "WHERE key = 'rollup_calls'")
        conn.execute("COMMIT")
        assert rollups_current(conn) and not days_current(conn)
    _assert_same(path, by="provider", since=None)


def test_half_a_day_pruned_leaves_its_day_rollup_equal_to_the_hours_left(
        tmp_path: Path) -> None:
    path = tmp_path / "u.db"
    _fill(path, 1200, seed=14, hours=72)
    cutoff = rollup.bucket_of(NOW - 40 * 3600)
    assert cutoff % rollup.DAY_SECONDS  # inside a day
    with connect_ledger(path) as conn:
        conn.execute("BEGIN IMMEDIATE")
        gone = conn.execute("DELETE FROM calls WHERE ts < ?", (float(cutoff),)).rowcount
        prune_rollups(conn, "?", cutoff)
        conn.execute("UPDATE ledger_meta SET value = CAST(CAST(value AS INTEGER) - ? AS TEXT) "
                     "WHERE key IN ('rollup_calls', 'rollup_day_calls')", (gone,))
        conn.execute("COMMIT")
        assert rollups_current(conn) and days_current(conn)
    for by in ("day", "model"):
        _assert_same(path, by=by, since=None)


def test_retention_prunes_whole_hours_of_rows_and_rollups(tmp_path: Path) -> None:
    path = tmp_path / "u.db"
    rnd = random.Random(9)
    import time

    now = time.time()
    ledger = Ledger(path, retention_days=None, sync=True)
    for i in range(400):
        ledger.record(_row(rnd, i, now - rnd.uniform(0, 3 * 86400)))
    ledger.close()
    pruner = Ledger(path, retention_days=1.0)
    with connect_ledger(path) as conn:
        pruner._prune(conn)
        assert rollups_current(conn)
        oldest = conn.execute("SELECT MIN(ts) FROM calls").fetchone()[0]
        first_hour = conn.execute("SELECT MIN(bucket) FROM usage_rollup").fetchone()[0]
    pruner.close()
    assert oldest >= rollup.bucket_of(now - 86400)
    assert first_hour == rollup.bucket_of(oldest)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12,
                          max_value=1e12), max_size=40), st.randoms())
def test_exact_sums_ignore_grouping(values: list[float], rnd: random.Random) -> None:
    whole, parts = ExactSum(), [ExactSum() for _ in range(3)]
    for v in values:
        whole.add(v)
        rnd.choice(parts).add(v)
    merged = ExactSum()
    for p in parts:
        merged.merge(ExactSum.load(p.dump()))
    assert whole.value() == merged.value() == math.fsum(values)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=1.0, max_value=1e8), min_size=1, max_size=60),
       st.sampled_from([0.0, 0.5, 0.95, 0.99, 1.0]))
def test_histogram_percentiles_stay_within_the_documented_bound(
        values: list[float], q: float) -> None:
    binned = Latencies.of_bins(Counter(_bin(v) for v in values))
    exact = rollup.exact_percentile(values, q)
    assert exact is not None
    got = binned.percentile(q)
    assert got is not None
    assert abs(got - exact) <= LATENCY_ERROR * exact * (1 + 1e-9)  # >= 1 ms: relative only


def test_an_infinite_cost_survives_a_rollup_row() -> None:
    a = rollup.Agg(0.0, None, None, None, None, None, ok=True, hit=False, calls=1)
    a.cost.add(float("inf"))
    a.cost.add(0.25)
    back = rollup.Agg(0.0, None, None, None, None, None, ok=True, hit=False)
    back.load(a.dump())  # "Infinity" is refused by orjson: the json module reads it
    assert back.cost.value() == math.inf
    assert rollup._loads(a.dump())["cost"][2] == math.inf


_LATENCY = st.one_of(st.floats(min_value=-1e3, max_value=1e308), st.just(math.inf),
                     st.floats(min_value=0, max_value=1.0), st.floats(min_value=1, max_value=1e5))


@settings(max_examples=200, deadline=None)
@given(st.lists(_LATENCY, max_size=50), st.lists(_LATENCY, max_size=50))
def test_packed_histograms_keep_every_count_through_a_row_and_a_merge(
        a: list[float], b: list[float]) -> None:
    rows = []
    for values in (a, b):
        agg = rollup.Agg(0.0, None, None, None, None, None, ok=True, hit=False)
        agg.latency.values.extend(values)
        back = rollup.Agg(0.0, None, None, None, None, None, ok=True, hit=False)
        back.load(agg.dump())  # the stored form: [first slot, hex]
        rows.append(back)
    merged = rollup.merge_aggs(rows)
    want = Counter(_bin(v) for v in a + b)
    assert merged.latency.counts() == +want  # the infinite and the sub-millisecond bins too


def test_rollup_rows_written_before_packing_still_read() -> None:
    # the format of rows written before histograms were packed: {"bin": count}
    old = ('{"calls":3,"fallbacks":0,"cost":[0,0],"unpriced":3,"saved":[0,0],"gen_tokens":0,'
           '"gen_ms":[0,0],"input_tokens":0,"output_tokens":0,"cached_tokens":0,'
           '"reasoning_tokens":0,"lat":{"-1":1,"60":2},"ttft":{"1000000":1}}')
    a = rollup.Agg(0.0, None, None, None, None, None, ok=True, hit=False)
    a.load(old)
    assert a.latency.counts() == {-1: 1, 60: 2}
    assert a.ttft.percentile(0.5) == math.inf
    assert a.latency.percentile(1.0) == pytest.approx(2 ** (60.5 / 8))


@settings(max_examples=int(os.environ.get("POLYROUTE_ROLLUP_EXAMPLES", 25)), deadline=None)
@given(st.integers(0, 2**32), st.integers(20, 250), st.floats(1.0, 120.0),
       st.sampled_from(["UTC", "Europe/London", "America/New_York", "Asia/Kolkata"]),
       st.sampled_from(["model", "day", "agent"]), st.one_of(st.none(), st.floats(2.0, 100.0)))
def test_any_rows_range_and_zone_read_from_rollups_equal_the_raw_rows(
        seed: int, n: int, hours: float, tz: str, by: str, since_hours: float | None) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "u.db"
        _fill(path, n, seed=seed, hours=hours)
        since = None if since_hours is None else f"{int(since_hours * 60)}m"
        _assert_same(path, by=by, since=since, timezone=tz)


def test_a_since_reaching_far_before_the_data_reads_in_any_zone(tmp_path: Path) -> None:
    path = tmp_path / "u.db"
    _fill(path, 300, seed=21)
    for tz in ("UTC", "Europe/London", "America/New_York"):  # 999,999 weeks: year < 1
        _assert_same(path, by="day", since="999999w", timezone=tz)


def _edited(**change: Any) -> str:
    """A well-formed rollup ``data`` text with some fields replaced."""
    import json

    a = rollup.Agg(0.0, None, None, None, None, None, ok=True, hit=False, calls=2)
    a.cost.add(0.25)
    a.latency.values.append(120.0)
    return json.dumps({**json.loads(a.dump()), **change})


_WELL_FORMED_BUT_WRONG = [
    _edited(calls="x"), _edited(calls=-5), _edited(input_tokens=1.5),
    _edited(cost=["ff", 10**9]), _edited(lat=[10**9, "1"]), _edited(lat={"999999999": 1}),
    _edited(ttft={"3": -2}),
]
_HOSTILE = st.one_of(
    st.sampled_from(_WELL_FORMED_BUT_WRONG),
    st.text(max_size=40),
    st.sampled_from(["", "null", "[]", "{}", '{"calls": "x"}', '{"calls": 1}', "1e999",
                     '{"calls":1,"fallbacks":0,"cost":["zz",0],"saved":[0,0],"gen_ms":[0,0],'
                     '"unpriced":0,"gen_tokens":0,"input_tokens":0,"output_tokens":0,'
                     '"cached_tokens":0,"reasoning_tokens":0,"lat":"!","ttft":0}']))


@settings(max_examples=25, deadline=None)
@given(data=_HOSTILE)
def test_a_damaged_rollup_row_is_read_from_the_raw_rows_and_rebuilt_by_the_next_write(
        tmp_path_factory: pytest.TempPathFactory, data: str) -> None:
    path = tmp_path_factory.mktemp("hostile") / "u.db"
    _fill(path, 300, hours=6)
    where = " AND ".join(f"{c} = ?" for c in ("bucket", *rollup._KEY, "ok", "hit"))
    with connect_ledger(path, create=False) as conn:  # someone edits the file by hand
        first = conn.execute(f"SELECT {', '.join(CALL_COLUMNS)} FROM calls "
                             "ORDER BY ts LIMIT 1").fetchone()
        (key,) = rollup._group([[first[CALL_COLUMNS.index(c)]
                                 for c in rollup.ROLLUP_SOURCE_COLUMNS]])
        day = (key[0] - key[0] % rollup.DAY_SECONDS, *key[1:])
        assert conn.execute(f"UPDATE usage_rollup SET data = ? WHERE {where}",
                            (data, *key)).rowcount == 1
        assert conn.execute(f"UPDATE usage_rollup_day SET data = ? WHERE {where}",
                            (data, *day)).rowcount == 1
        conn.commit()
    # a report reads the raw rows instead (a warning, never a traceback)...
    _assert_same(path, by="model", since=None)
    # ...and the writer rebuilds both rows from the raw ones when it next writes them
    ledger = Ledger(path, retention_days=None, sync=True)
    for i in range(3):
        ledger.record((f"again{i}", *first[1:]))
    ledger.close()
    assert ledger.dropped == 0
    with connect_ledger(path, create=False) as conn:
        hours = rollup.read_rollups(conn, "?", None, 2**40)
        days = rollup.read_rollups(conn, "?", None, 2**40, rollup.DAY_SECONDS)
    assert sum(a.calls for a in hours) == sum(a.calls for a in days) == 303
    _assert_same(path, by="provider", since=None)


def test_a_damaged_hour_row_does_not_stop_the_day_rollups_being_rebuilt(
        tmp_path: Path) -> None:
    path = tmp_path / "u.db"
    _fill(path, 300, hours=30)
    with connect_ledger(path, create=False) as conn:
        conn.execute("UPDATE usage_rollup SET data = 'garbage'")
        conn.execute("DELETE FROM ledger_meta WHERE key = 'rollup_day_calls'")
        conn.commit()
        assert not days_current(conn)
    Ledger(path, retention_days=None).close()  # opening the writer rebuilds the days
    with connect_ledger(path, create=False) as conn:
        assert days_current(conn)
        day_calls = conn.execute("SELECT SUM(json_extract(data, '$.calls')) "
                                 "FROM usage_rollup_day").fetchone()[0]
    assert day_calls == 300  # summed again from the raw rows, not lost


def test_a_replaced_row_that_summed_an_infinity_is_taken_out_exactly(tmp_path: Path) -> None:
    path = tmp_path / "u.db"
    rnd = random.Random(9)
    base = list(_row(rnd, 1, NOW - 5000))
    c = {name: CALL_COLUMNS.index(name) for name in ("id", "cost_usd", "cost_saved_usd",
                                                      "latency_ms", "ttft_ms", "status")}
    base[c["status"]] = "ok"
    ledger = Ledger(path, retention_days=None, sync=True)
    first = list(base)
    first[c["cost_usd"]], first[c["cost_saved_usd"]] = math.inf, -math.inf
    first[c["latency_ms"]], first[c["ttft_ms"]] = math.inf, 1.0
    ledger.record(tuple(first))
    other = list(base)
    other[c["id"]], other[c["cost_usd"]] = "other", 0.25
    ledger.record(tuple(other))
    again = list(base)
    again[c["cost_usd"]] = 0.5  # the same id, now finite: replaces the first row
    ledger.record(tuple(again))
    ledger.close()
    report = _report(path, raw=False, since=None)
    assert report.total.requests == 2 and report.total.cost_usd == 0.75  # not NaN
    _assert_same(path, by="model", since=None)


@pytest.mark.parametrize("data", _WELL_FORMED_BUT_WRONG)
def test_well_formed_rollup_data_with_wrong_values_is_refused_not_summed(
        tmp_path: Path, data: str) -> None:
    path = tmp_path / "u.db"
    _fill(path, 50, hours=2)
    with connect_ledger(path, create=False) as conn:
        conn.execute("UPDATE usage_rollup SET data = ?", (data,))
        conn.commit()
        with pytest.raises(rollup.RollupCorrupt, match="cannot be read"):
            rollup.read_rollups(conn, "?", None, 2**40)
    a = rollup.Agg(0.0, None, None, None, None, None, ok=True, hit=False)
    with pytest.raises(rollup._UNREADABLE):
        a.load(data)
    _assert_same(path, by="model", since=None)  # the report reads the raw rows instead
