"""The day rollups (``usage_rollup_day``) beside the hourly ones: kept consistent when
rows are pruned, rebuilt from the hours for a ledger written before they existed, and
trusted by readers only when they sum exactly what the hours sum.

Every writer of this release adds rows to both tables in one transaction
(``rollup.apply_rows``) and counts them in ``ledger_meta``: ``rollup_calls`` for the
hours, ``rollup_day_calls`` for the days. A writer of an earlier release bumps only
the first, so the two differ and readers use the hours until the next writer of this
release opens the ledger and rebuilds the days (``ensure_days``).
"""

from __future__ import annotations

from typing import Any

from polyroute.ledger.rollup import (
    _KEY,
    BUCKET_SECONDS,
    DAY_SECONDS,
    TABLES,
    Agg,
    apply_groups,
    by_day,
    load_or_rebuild,
)

__all__ = ["COUNTERS", "days_current", "meta_counts", "prune_rollups", "rebuild_days"]

COUNTERS = ("rollup_calls", "rollup_day_calls")
"""The ``ledger_meta`` keys counting the rows each rollup table sums; a writer moves
both by the same amount in the transaction that changes the rows."""
_HOURS, _DAYS = TABLES[BUCKET_SECONDS], TABLES[DAY_SECONDS]


def meta_counts(conn: Any, ph: str) -> dict[str, str]:
    rows = conn.execute(f"SELECT key, value FROM ledger_meta WHERE key IN ({ph}, {ph}, {ph})",
                        ("rollup", *COUNTERS)).fetchall()
    return {str(k): str(v) for k, v in rows}


def days_current(conn: Any, ph: str = "?") -> bool:
    """Whether the day rollups sum what the hourly ones do (call with the hourly ones
    known current)."""
    try:
        meta = meta_counts(conn, ph)
    except Exception:  # no ledger_meta table: no rollups at all
        return False
    return meta.get("rollup_day_calls") is not None and \
        meta.get("rollup_day_calls") == meta.get("rollup_calls")


def _hour_groups(conn: Any, ph: str, rows: list[Any]) -> dict[tuple[Any, ...], Agg]:
    out = {}
    for row in rows:
        out[tuple(row[:8])] = load_or_rebuild(conn, ph, _HOURS, row)[0]
    return out


def rebuild_days(conn: Any, ph: str, *, upsert: str | None = None,
                 calls: int | None = None) -> None:
    """Rewrite every day row from the hour rows, in the caller's write transaction, one
    day at a time (memory bounded by a day's rows; on PostgreSQL ``conn`` is the one
    cursor every statement goes through); ``calls``: then set ``rollup_day_calls``."""
    cols = f"bucket, {', '.join(_KEY)}, ok, hit, data"
    conn.execute(f"DELETE FROM {_DAYS}")
    days = sorted({int(b) - int(b) % DAY_SECONDS for (b,) in conn.execute(
        f"SELECT DISTINCT bucket FROM {_HOURS}").fetchall()})
    for day in days:
        rows = conn.execute(f"SELECT {cols} FROM {_HOURS} WHERE bucket >= {ph} AND "
                            f"bucket < {ph}", (day, day + DAY_SECONDS)).fetchall()
        apply_groups(conn, ph, _DAYS, by_day(_hour_groups(conn, ph, rows)), {}, upsert)
    if calls is not None:
        _set(conn, ph, "rollup_day_calls", calls)


def prune_rollups(conn: Any, ph: str, cutoff: int, *, upsert: str | None = None) -> None:
    """Retention, in the caller's write transaction: the hour rows before ``cutoff``
    (an hour boundary) go, so do the day rows before its day, and the day it falls in
    is summed again from the hours left in it."""
    conn.execute(f"DELETE FROM {_HOURS} WHERE bucket < {ph}", (cutoff,))
    day = cutoff - cutoff % DAY_SECONDS
    conn.execute(f"DELETE FROM {_DAYS} WHERE bucket < {ph}", (day,))
    if cutoff > day:
        cols = f"bucket, {', '.join(_KEY)}, ok, hit, data"
        rows = conn.execute(f"SELECT {cols} FROM {_HOURS} WHERE bucket >= {ph} AND bucket < {ph}",
                            (cutoff, day + DAY_SECONDS)).fetchall()
        conn.execute(f"DELETE FROM {_DAYS} WHERE bucket = {ph}", (day,))
        apply_groups(conn, ph, _DAYS, by_day(_hour_groups(conn, ph, rows)), {}, upsert)


def _set(conn: Any, ph: str, key: str, value: int) -> None:
    # an upsert both databases take: delete, then insert (inside the caller's transaction)
    conn.execute(f"DELETE FROM ledger_meta WHERE key = {ph}", (key,))
    conn.execute(f"INSERT INTO ledger_meta (key, value) VALUES ({ph}, {ph})", (key, str(value)))
