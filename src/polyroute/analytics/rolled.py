"""Usage figures from the hourly rollups (``polyroute.ledger.rollup``) for big periods.

Whole hours inside the period come from ``usage_hourly``; the partial hours at its
two ends from the raw rows, folded the same way. Counts, tokens and costs equal the
raw computation exactly; p50/p95 come from the rollups' histograms (±2.5 %).
``usage_stats`` uses this when the period holds more than ``ROLLUP_FROM`` calls and
the ledger's rollups are built; below that the raw rows are read (exact percentiles).
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections import defaultdict
from datetime import datetime
from typing import Any

from polyroute.ledger.rollup import FOLD_COLUMNS, HOUR, Acc, key_of

__all__ = ["ROLLUP_FROM", "cost_between", "rolled_groups", "rollups_ready"]

ROLLUP_FROM = 20_000
"""Calls in a period above which usage views read rollups instead of rows."""

_SUM_COLS = ("requests", "succeeded", "failed", "input_tokens", "output_tokens",
             "cached_tokens", "reasoning_tokens", "cost_usd", "unpriced", "saved_usd", "hits",
             "fallbacks", "gen_tokens", "gen_seconds", "failed_cost_usd")
_ROLL_COLS = ("hour", "provider", "model", "agent", "route", "tenant", "ok", *_SUM_COLS,
              "latency", "ttft")


def rollups_ready(conn: sqlite3.Connection) -> bool:
    try:
        row = conn.execute("SELECT value FROM rollup_meta WHERE name = 'version'").fetchone()
    except sqlite3.OperationalError:  # a ledger from before rollups, opened read-only
        return False
    return row is not None


def _hours(start: float | None, end: float) -> tuple[int | None, int]:
    """The whole hours ``[lo, hi)`` inside ``[start, end]`` (``lo`` None: from the start)."""
    lo = None if start is None else math.ceil(start / HOUR)
    hi = math.floor(end / HOUR)  # hour hi may still be running: its rows are read raw
    return lo, hi


def _edge_rows(conn: sqlite3.Connection, start: float | None, end: float,
               lo: int | None, hi: int) -> list[dict[str, Any]]:
    cols = ", ".join(FOLD_COLUMNS)
    out: list[dict[str, Any]] = []
    spans = []
    if start is not None and lo is not None:
        spans.append((start, min(lo * HOUR, end), False))
    spans.append((max(hi * HOUR, start if start is not None else -math.inf), end, True))
    for a, b, closed in spans:
        if a > b:
            continue
        op = "<=" if closed else "<"
        out += [dict(zip(FOLD_COLUMNS, r, strict=True)) for r in conn.execute(
            f"SELECT {cols} FROM calls WHERE ts >= ? AND ts {op} ?", (a, b))]
    return out


def _group(by: str, provider: str, model: str, agent: str, route: str, tenant: str,
           ts: float, tz: Any) -> str:
    if by == "day":
        return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d")
    if by == "model":
        return f"{provider}/{model}" if provider else "-"
    return {"provider": provider, "agent": agent, "route": route, "tenant": tenant}.get(
        by, "") or "-"


Rolled = tuple[dict[str, Acc], Acc, dict[str, Acc], dict[str, dict[str, float]]]


def rolled_groups(conn: sqlite3.Connection, start: float | None, end: float, by: str,
                  tz: Any) -> Rolled:
    """Per group, overall, per day (latency) and per day x provider (cost)."""
    lo, hi = _hours(start, end)
    groups: dict[str, Acc] = defaultdict(Acc)
    total = Acc()
    days: dict[str, Acc] = defaultdict(Acc)
    day_cost: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    sql = f"SELECT {', '.join(_ROLL_COLS)} FROM usage_hourly WHERE hour < ?"
    args: list[Any] = [hi]
    if lo is not None:
        sql += " AND hour >= ?"
        args.append(lo)
    n = len(_SUM_COLS)
    for row in conn.execute(sql, args):
        hour, provider, model, agent, route, tenant = row[:6]
        acc = Acc(sums=dict(zip(_SUM_COLS, row[7: 7 + n], strict=True)),
                  latency=_hist(row[7 + n]), ttft=_hist(row[8 + n]))
        ts = hour * HOUR
        groups[_group(by, provider, model, agent, route, tenant, ts, tz)].merge(acc)
        total.merge(acc)
        day = datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d")
        days[day].merge(acc)
        spent = acc.sums["cost_usd"] + acc.sums["failed_cost_usd"]
        if spent:
            day_cost[day][provider or "-"] += spent
    for raw in _edge_rows(conn, start, end, lo, hi):
        k = key_of(raw)
        acc = Acc()
        acc.add_call(raw)
        groups[_group(by, k[1], k[2], k[3], k[4], k[5], float(raw["ts"]), tz)].merge(acc)
        total.merge(acc)
        day = datetime.fromtimestamp(float(raw["ts"]), tz).strftime("%Y-%m-%d")
        days[day].merge(acc)
        if raw["cost_usd"]:
            day_cost[day][raw["provider"] or "-"] += float(raw["cost_usd"])
    return dict(groups), total, dict(days), {d: dict(c) for d, c in day_cost.items()}


def cost_between(conn: sqlite3.Connection, start: float, end: float,
                 where: str = "", args: tuple[Any, ...] = ()) -> float:
    """Sum of ``cost_usd`` of the calls in ``[start, end]`` matching ``where`` (a filter
    on provider/model/agent/route/tenant, the same in both tables)."""
    lo, hi = _hours(start, end)
    extra = f" AND ({where})" if where else ""
    rolled = conn.execute(
        f"SELECT COALESCE(SUM(cost_usd + failed_cost_usd), 0) FROM usage_hourly WHERE hour >= ? "
        f"AND hour < ?{extra}", (lo, hi, *args)).fetchone()[0]
    edges = 0.0
    for a, b, op in ((start, min((lo or 0) * HOUR, end), "<"), (max(hi * HOUR, start), end, "<=")):
        if a <= b:
            edges += conn.execute(f"SELECT COALESCE(SUM(cost_usd), 0) FROM calls WHERE ts >= ? "
                                  f"AND ts {op} ?{extra}", (a, b, *args)).fetchone()[0]
    return float(rolled) + float(edges)


def _hist(text: str | None) -> dict[int, int]:
    try:
        raw = json.loads(text or "{}")
    except ValueError:
        return {}
    return {int(k): int(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


