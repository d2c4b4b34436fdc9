"""The usage ledger on PostgreSQL: batched writes off the request path, the sync promise,
4 processes sharing one ledger with no row lost, rollups equal to the raw rows, values
PostgreSQL refuses, columns added to the lists, and the password never shown. Skips,
saying why, without the machine's PostgreSQL (127.0.0.1:5432, user postgres, db test)."""

from __future__ import annotations

import logging
import random
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

psycopg = pytest.importorskip("psycopg", reason="the PostgreSQL ledger needs polyroute[postgres]")

from polyroute.analytics import stats as stats_mod  # noqa: E402
from polyroute.analytics.stats import usage_stats  # noqa: E402
from polyroute.errors import ConfigError  # noqa: E402
from polyroute.ledger import postgres as pg  # noqa: E402
from polyroute.ledger.postgres import PostgresLedger, connect_pg_ledger  # noqa: E402
from polyroute.ledger.store import CALL_COLUMNS, Ledger, rollups_current  # noqa: E402

NOW = 1_780_000_000.0 + 777.0


@pytest.fixture
def url(pg_ledger_url: str) -> str:
    return pg_ledger_url


def _row(rnd: random.Random, i: int, ts: float) -> tuple[Any, ...]:
    ok = rnd.random() > 0.1
    row = {"id": f"c{i}", "ts": ts, "agent": rnd.choice(["a", "b", None]), "route": "r",
           "provider": rnd.choice(["openai", "anth"]), "model": rnd.choice(["m1", "m2"]),
           "input_tokens": rnd.randrange(1000), "output_tokens": rnd.randrange(300),
           "cached_tokens": 0, "reasoning_tokens": 0,
           "cost_usd": rnd.choice([None, 1e-6 * rnd.randrange(1, 9999), 0.3]),
           "cost_saved_usd": None, "price_known": 1,
           "latency_ms": rnd.choice([rnd.uniform(20, 4000), None, float("nan")]),
           "ttft_ms": None, "status": "ok" if ok else "error", "error": None if ok else "x",
           "attempts": 1, "fallback": int(rnd.random() < 0.2), "cache_hit": int(rnd.random() < .1),
           "stream": 0, "tags": None, "tenant": rnd.choice([None, "t1"])}
    return tuple(row.get(c) for c in CALL_COLUMNS)


def _count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0])


def test_rows_are_batched_and_usage_reads_them_as_from_sqlite(url: str, tmp_path: Path) -> None:
    rnd = random.Random(3)
    rows = [_row(rnd, i, NOW - rnd.uniform(0, 40 * 3600)) for i in range(1500)]
    ledger = PostgresLedger(url, retention_days=None)
    lite = Ledger(tmp_path / "u.db", retention_days=None)
    for r in rows:
        ledger.record(r, [(r[0], 1, r[1], r[5], r[6], 1, 12.0, None, 200, "answer",
                           1, 2, 0, 0, 0, 0.0)])
        lite.record(r)
    assert ledger.flush() and lite.flush()
    ledger.close()
    lite.close()
    assert _count(url) == 1500 and ledger.dropped == 0
    with connect_pg_ledger(url, create=False) as conn:
        assert rollups_current(conn, "%s")
        assert conn.execute("SELECT COUNT(*) FROM attempts").fetchone()[0] == 1500
        assert conn.execute("SELECT COUNT(*) FROM calls WHERE latency_ms = 'NaN'"
                            ).fetchone()[0] == 0  # NaN is NULL, as on SQLite
    for by in ("model", "agent", "tenant", "day"):
        on_pg = usage_stats(url, by=by, since=None, now=NOW)
        on_lite = usage_stats(tmp_path / "u.db", by=by, since=None, now=NOW)
        assert [(g.key, g.requests, g.failed, g.input_tokens, g.cost_usd, g.unpriced)
                for g in on_pg.groups] == [
            (g.key, g.requests, g.failed, g.input_tokens, g.cost_usd, g.unpriced)
            for g in on_lite.groups]
        assert on_pg.total.p95_ms == on_lite.total.p95_ms


def test_rollups_on_postgres_equal_its_raw_rows(url: str, monkeypatch: pytest.MonkeyPatch,
                                                 ) -> None:
    rnd = random.Random(8)
    ledger = PostgresLedger(url, retention_days=None, sync=True)
    for i in range(600):
        ledger.record(_row(rnd, i, NOW - rnd.uniform(0, 30 * 3600)))
    ledger.record(_row(rnd, 5, NOW - 100))  # a replaced row counts once
    ledger.close()
    fast = usage_stats(url, by="provider", since="20h", now=NOW)
    monkeypatch.setattr(stats_mod, "rollups_current", lambda *a, **k: False)
    slow = usage_stats(url, by="provider", since="20h", now=NOW)
    assert fast.total.requests == slow.total.requests
    assert [(g.key, g.requests, g.cost_usd, g.fallback_rate) for g in fast.groups] == [
        (g.key, g.requests, g.cost_usd, g.fallback_rate) for g in slow.groups]
    assert _count(url) == 600


def test_an_idle_writer_keeps_no_written_row_in_memory(url: str) -> None:
    """As on SQLite (test_ledger_durability.py): the writer lets go of its last batch."""
    # here, not at the top: the four-process test's workers import this module bare
    from ledger_support import rows_alive

    rnd = random.Random(5)
    ledger = PostgresLedger(url, retention_days=None)
    try:
        ident = f"pg-idle-{rnd.randrange(10**9)}"
        row = _row(rnd, 0, NOW)
        ledger.record((ident, *row[1:]))
        assert ledger.flush()
        assert rows_alive(ident) == 0  # let go of before flush() returns
    finally:
        ledger.close()


def test_sync_commits_before_record_returns(url: str) -> None:
    ledger = PostgresLedger(url, retention_days=None, sync=True)
    ledger.record(_row(random.Random(1), 1, NOW))
    assert _count(url) == 1  # no flush: already committed
    ledger.close()


def test_four_processes_share_one_ledger_and_lose_no_row(url: str) -> None:
    script = textwrap.dedent(f"""
        import random, sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_ledger_postgres import _row, NOW
        from polyroute.ledger.postgres import PostgresLedger
        w = int(sys.argv[1])
        rnd = random.Random(w)
        ledger = PostgresLedger({url!r}, retention_days=None)
        for i in range(1000):
            ledger.record(_row(rnd, w * 100_000 + i, NOW - rnd.uniform(0, 5 * 3600)))
        ledger.close()
        print(ledger.dropped, ledger.written)
    """)
    connect_pg_ledger(url).close()  # the schema, once
    procs = [subprocess.Popen([sys.executable, "-c", script, str(w)], stdout=subprocess.PIPE)
             for w in range(4)]
    outs = [p.communicate(timeout=300)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert [(int(d), int(n)) for d, n in outs] == [(0, 1000)] * 4
    assert _count(url) == 4000
    with connect_pg_ledger(url, create=False) as conn:
        assert rollups_current(conn, "%s")
    assert usage_stats(url, since=None, now=NOW).total.requests == 4000


def test_a_value_postgres_refuses_is_nulled_not_lost(url: str,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    rnd = random.Random(2)
    good, bad = _row(rnd, 1, NOW), list(_row(rnd, 2, NOW))
    bad[CALL_COLUMNS.index("input_tokens")] = 2**70
    ledger = PostgresLedger(url, retention_days=None)
    with caplog.at_level(logging.WARNING):
        ledger.record(good)
        ledger.record(tuple(bad))
        assert ledger.flush()
    ledger.close()
    assert (ledger.dropped, ledger.nulled, _count(url)) == (0, 1, 2)
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT input_tokens FROM calls WHERE id = 'c2'").fetchone() == (
            None,)


def test_columns_added_to_the_lists_are_created(url: str,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    connect_pg_ledger(url).close()  # an existing ledger...
    monkeypatch.setattr(pg, "CALL_COLUMNS", (*CALL_COLUMNS, "experiment"))
    connect_pg_ledger(url).close()  # ...opened by a release with one more column
    with psycopg.connect(url) as conn:
        cols = {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'calls' "
            "AND table_schema = current_schema()")}
    assert {"experiment", "cost_usd", "tenant"} <= cols


def test_the_password_is_never_shown() -> None:
    url = "postgresql://bob:hunter2-secret@127.0.0.1:1/nodb?sslpassword=zzz"
    with pytest.raises(ConfigError) as err:
        PostgresLedger(url)
    text = str(err.value) + repr(err.value)
    assert "hunter2-secret" not in text and "zzz" not in text
    assert "bob:***@127.0.0.1:1" in text
    assert pg.redact_dsn(url) == "postgresql://bob:***@127.0.0.1:1/nodb?***"


def test_retention_prunes_whole_hours_of_rows_and_rollups(url: str) -> None:
    from polyroute.ledger.rollup import bucket_of

    rnd = random.Random(6)
    now = time.time()
    ledger = PostgresLedger(url, retention_days=None, sync=True)
    for i in range(300):
        ledger.record(_row(rnd, i, now - rnd.uniform(0, 3 * 86400)))
    ledger.close()
    pruner = PostgresLedger(url, retention_days=1.0)
    with connect_pg_ledger(url, create=False) as conn:
        pruner._prune(conn)
        assert rollups_current(conn, "%s")
        oldest = conn.execute("SELECT MIN(ts) FROM calls").fetchone()[0]
        first_hour = conn.execute("SELECT MIN(bucket) FROM usage_rollup").fetchone()[0]
    pruner.close()
    assert oldest >= bucket_of(now - 86400)
    assert first_hour == bucket_of(oldest)


def test_day_rollups_on_postgres_are_rebuilt_pruned_and_equal_the_raw_rows(
        url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from polyroute.ledger.rollup import bucket_of
    from polyroute.ledger.rollup_days import days_current

    rnd = random.Random(16)
    now = time.time()
    ledger = PostgresLedger(url, retention_days=None, sync=True)
    for i in range(500):
        ledger.record(_row(rnd, i, now - rnd.uniform(0, 4 * 86400)))
    ledger.close()

    def same() -> None:
        for by in ("day", "model"):
            fast = usage_stats(url, by=by, since=None, now=now)
            with monkeypatch.context() as m:
                m.setattr(stats_mod, "rollups_current", lambda *a, **k: False)
                slow = usage_stats(url, by=by, since=None, now=now)
            assert [(g.key, g.requests, g.cost_usd, g.input_tokens) for g in fast.groups] == [
                (g.key, g.requests, g.cost_usd, g.input_tokens) for g in slow.groups]

    with connect_pg_ledger(url, create=False) as conn:
        assert days_current(conn, "%s")
        conn.execute("DELETE FROM usage_rollup_day")  # as a ledger from before the table
        conn.execute("DELETE FROM ledger_meta WHERE key = 'rollup_day_calls'")
        assert not days_current(conn, "%s")
    same()  # read from the hours meanwhile
    connect_pg_ledger(url).close()  # a writer of this release opens it: the days again
    with connect_pg_ledger(url, create=False) as conn:
        assert days_current(conn, "%s")
        assert conn.execute("SELECT COUNT(*) FROM usage_rollup_day").fetchone()[0] > 0
    same()
    pruner = PostgresLedger(url, retention_days=1.5)  # half a day: a day summed again
    with connect_pg_ledger(url, create=False) as conn:
        pruner._prune(conn)
        assert days_current(conn, "%s")
        first_day = conn.execute("SELECT MIN(bucket) FROM usage_rollup_day").fetchone()[0]
    pruner.close()
    assert first_day == bucket_of(now - 1.5 * 86400) // 86400 * 86400
    same()


def test_a_damaged_rollup_row_on_postgres_is_read_raw_and_rebuilt(
        url: str, caplog: pytest.LogCaptureFixture) -> None:
    rnd = random.Random(12)
    ledger = PostgresLedger(url, retention_days=None, sync=True)
    rows = [_row(rnd, i, NOW - rnd.uniform(0, 5 * 3600)) for i in range(200)]
    for r in rows:
        ledger.record(r)
    ledger.close()
    with psycopg.connect(url) as conn:  # every hour row edited by hand
        conn.execute("UPDATE usage_rollup SET data = '{\"calls\": \"x\"}'")
    caplog.set_level(logging.WARNING, logger="polyroute")
    report = usage_stats(url, by="provider", since=None, now=NOW)
    assert report.total.requests == 200  # the raw rows, with a warning
    assert "cannot be read" in caplog.text
    ledger = PostgresLedger(url, retention_days=None, sync=True)
    for i, r in enumerate(rows):  # the same keys again: every damaged hour is rebuilt
        ledger.record((f"again{i}", *r[1:]))
    ledger.close()
    assert ledger.dropped == 0
    with psycopg.connect(url) as conn:
        calls = conn.execute("SELECT SUM((data::json->>'calls')::int) FROM usage_rollup"
                             ).fetchone()[0]
    assert calls == 400
