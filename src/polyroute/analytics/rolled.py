"""Usage figures from the hourly rollups (``polyroute.ledger.rollup``) for big periods.

Whole hours inside the period come from ``usage_hourly``, added up by SQLite
(``GROUP BY`` over sums and histogram columns: no row is handled in Python); the
partial hours at its two ends from the raw rows, folded the same way. Days in the
caller's time zone come from a temporary hour -> day table the query joins. Counts,
tokens and costs equal the raw computation exactly; p50/p95 come from the histograms
(within 2.5 %). ``usage_stats`` uses this when the period holds more than
``ROLLUP_FROM`` calls and the ledger's rollups are built; below that the raw rows.
"""

from __future__ import annotations

import math
import sqlite3
from collections import defaultdict
from datetime import datetime
from typing import Any

from polyroute.ledger.rollup import (
    FOLD_COLUMNS,
    HOUR,
    ROLLUP_VERSION,
    SUM_COLS,
    Acc,
    from_blob,
    key_of,
    unpack,
)

__all__ = ["ROLLUP_FROM", "cost_between", "rolled_groups", "rollups_ready"]

ROLLUP_FROM = 20_000
"""Calls in a period above which usage views read rollups instead of rows."""

_GROUP_SQL = {"model": "CASE WHEN provider = '' THEN '-' ELSE provider || '/' || model END",
              "provider": "provider", "agent": "agent", "route": "route", "tenant": "tenant",
              "day": "d.day"}
_AGG = ", ".join(f"SUM({c})" for c in SUM_COLS)


def rollups_ready(conn: sqlite3.Connection) -> bool:
    try:
        row = conn.execute("SELECT value FROM rollup_meta WHERE name = 'version'").fetchone()
    except sqlite3.OperationalError:  # a ledger from before rollups, opened read-only
        return False
    return row is not None and row[0] == ROLLUP_VERSION  # an older layout: read the rows


def _hours(start: float | None, end: float) -> tuple[int | None, int]:
    """The whole hours ``[lo, hi)`` inside ``[start, end]`` (``lo`` None: from the start)."""
    lo = None if start is None else math.ceil(start / HOUR)
    hi = math.floor(end / HOUR)  # hour hi may still be running: its rows are read raw
    return lo, hi


def _spans(start: float | None, end: float, lo: int | None, hi: int
           ) -> list[tuple[float, float, str]]:
    """The raw-row periods around the whole hours ``[lo, hi)``: ``(from, to, "<"|"<=")``."""
    begin = -math.inf if start is None else start
    if lo is not None and lo >= hi:  # no whole hour inside: the rows, all of them
        return [(begin, end, "<=")]
    spans = [] if lo is None else [(begin, lo * HOUR, "<")]
    return [*spans, (max(hi * HOUR, begin), end, "<=")]


def _edge_rows(conn: sqlite3.Connection, start: float | None, end: float,
               lo: int | None, hi: int) -> list[dict[str, Any]]:
    cols = ", ".join(FOLD_COLUMNS)
    out: list[dict[str, Any]] = []
    for a, b, op in _spans(start, end, lo, hi):
        if a > b:
            continue
        out += [dict(zip(FOLD_COLUMNS, r, strict=True)) for r in conn.execute(
            f"SELECT {cols} FROM calls WHERE ts >= ? AND ts {op} ?", (a, b))]
    return out


def _sums(row: tuple[Any, ...]) -> Acc:
    """An ``Acc`` holding ``_AGG``'s sums (histograms are added up separately)."""
    return Acc(sums={c: float(v or 0) for c, v in zip(SUM_COLS, row, strict=True)})


def _day_table(conn: sqlite3.Connection, lo: int, hi: int, tz: Any) -> None:
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS hour_day (hour INTEGER PRIMARY KEY, day TEXT)")
    conn.execute("DELETE FROM hour_day")
    conn.executemany("INSERT INTO hour_day VALUES (?, ?)", [
        (h, datetime.fromtimestamp(h * HOUR, tz).strftime("%Y-%m-%d")) for h in range(lo, hi)])


Rolled = tuple[dict[str, Acc], Acc, dict[str, Acc], dict[str, dict[str, float]]]


def rolled_groups(conn: sqlite3.Connection, start: float | None, end: float, by: str,
                  tz: Any) -> Rolled:
    """Per group, overall, per day (latency) and per day x provider (cost)."""
    lo, hi = _hours(start, end)
    edges = _edge_rows(conn, start, end, lo, hi)
    if lo is None:
        first = conn.execute("SELECT MIN(hour) FROM usage_hourly").fetchone()[0]
        lo = hi if first is None else min(int(first), hi)
    _day_table(conn, lo, hi, tz)
    groups: dict[str, Acc] = defaultdict(Acc)
    days: dict[str, Acc] = defaultdict(Acc)
    day_cost: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    rolled = "FROM usage_hourly JOIN hour_day d USING (hour) WHERE hour >= ? AND hour < ?"
    group = _GROUP_SQL[by]
    for row in conn.execute(f"SELECT {group} AS g, {_AGG} {rolled} GROUP BY g", (lo, hi)):
        groups[str(row[0] or "-")].merge(_sums(row[1:]))
    for row in conn.execute(f"SELECT d.day, {_AGG} {rolled} GROUP BY d.day", (lo, hi)):
        days[row[0]].merge(_sums(row[1:]))
    # histograms: one big-integer addition per rollup row and target (rollup.pack)
    lat: dict[str, int] = defaultdict(int)
    ttft: dict[str, int] = defaultdict(int)
    day_lat: dict[str, int] = defaultdict(int)
    for g, day, lat_blob, ttft_blob in conn.execute(
            f"SELECT {group}, d.day, latency, ttft {rolled}", (lo, hi)):
        value = from_blob(lat_blob)
        key = str(g or "-")
        lat[key] += value
        day_lat[day] += value
        ttft[key] += from_blob(ttft_blob)
    for key, acc in groups.items():
        acc.merge(Acc(sums=dict.fromkeys(SUM_COLS, 0.0), latency=unpack(lat.get(key, 0)),
                      ttft=unpack(ttft.get(key, 0))))
    for day, acc in days.items():
        acc.merge(Acc(sums=dict.fromkeys(SUM_COLS, 0.0), latency=unpack(day_lat.get(day, 0))))
    for day, provider, spent in conn.execute(
            f"SELECT d.day, provider, SUM(cost_usd + failed_cost_usd) {rolled} "
            "GROUP BY d.day, provider", (lo, hi)):
        if spent:
            day_cost[day][provider or "-"] += spent
    for raw in edges:
        k = key_of(raw)
        acc = Acc()
        acc.add_call(raw)
        ts = float(raw["ts"])
        day = datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d")
        group = {"model": f"{k[1]}/{k[2]}" if k[1] else "-", "provider": k[1], "agent": k[3],
                 "route": k[4], "tenant": k[5], "day": day}[by] or "-"
        groups[group].merge(acc)
        days[day].merge(acc)
        if raw["cost_usd"]:
            day_cost[day][raw["provider"] or "-"] += float(raw["cost_usd"])
    total = Acc()
    for acc in groups.values():
        total.merge(acc)
    return dict(groups), total, dict(days), {d: dict(c) for d, c in day_cost.items()}


def cost_between(conn: sqlite3.Connection, start: float, end: float,
                 where: str = "", args: tuple[Any, ...] = ()) -> float:
    """Sum of ``cost_usd`` of the calls in ``[start, end]`` matching ``where`` (a filter
    on provider/model/agent/route/tenant, the same in both tables)."""
    lo, hi = _hours(start, end)
    assert lo is not None
    extra = f" AND ({where})" if where else ""
    rolled = 0.0 if lo >= hi else conn.execute(
        f"SELECT COALESCE(SUM(cost_usd + failed_cost_usd), 0) FROM usage_hourly WHERE hour >= ? "
        f"AND hour < ?{extra}", (lo, hi, *args)).fetchone()[0]
    edges = 0.0
    for a, b, op in _spans(start, end, lo, hi):
        if a <= b:
            edges += conn.execute(f"SELECT COALESCE(SUM(cost_usd), 0) FROM calls WHERE ts >= ? "
                                  f"AND ts {op} ?{extra}", (a, b, *args)).fetchone()[0]
    return float(rolled) + float(edges)
