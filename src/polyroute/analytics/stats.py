"""Usage analytics from the ledger: per model, provider, agent or day.

Figures per group: requests, tokens (in/out/cached/reasoning), cost, cost
saved by the cache, p50/p95 latency, p50 time to first token (streams), output
tokens per second, success rate, fallback rate, cache hit rate, cost per
successful request and tokens per dollar. For the whole period: the use of each
configured budget in its current window, the burn rate (mean cost per day over
the last 7 days) and a month-end forecast (month to date + burn rate x days left).

``usage_stats(router)`` (or a ledger path) returns a ``UsageReport``;
``report.as_dict()`` is what ``polyroute usage --format json`` prints.
"""

from __future__ import annotations

import calendar
import json
import os
import sqlite3
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from polyroute.analytics.rolled import ROLLUP_FROM, cost_between, rolled_groups, rollups_ready
from polyroute.budgets.windows import window_at, zone
from polyroute.config.cost import BudgetConfig, parse_duration, resolve_path
from polyroute.ledger.rollup import Acc, percentile_of
from polyroute.ledger.store import connect_ledger

if TYPE_CHECKING:
    from polyroute.config.schema import PolyrouteConfig
    from polyroute.guard_base import Guard

__all__ = ["BudgetUse", "GroupStats", "UsageReport", "ledger_path", "percentile", "usage_stats"]

GroupBy = Literal["model", "provider", "agent", "day", "route", "tenant"]
_COLS = ("ts", "agent", "route", "provider", "model", "input_tokens", "output_tokens",
         "cached_tokens", "reasoning_tokens", "cost_usd", "cost_saved_usd", "latency_ms",
         "ttft_ms", "status", "fallback", "cache_hit", "stream", "tags", "tenant", "error")


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank-interpolated percentile of ``values`` (``q`` in 0..1); ``None`` if empty."""
    if not values:
        return None
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


@dataclass
class GroupStats:
    key: str
    requests: int = 0
    succeeded: int = 0
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    unpriced: int = 0
    """Successful calls whose price was unknown (their cost is not in ``cost_usd``)."""
    saved_usd: float = 0.0
    p50_ms: float | None = None
    p95_ms: float | None = None
    ttft_p50_ms: float | None = None
    tokens_per_s: float | None = None
    success_rate: float | None = None
    fallback_rate: float | None = None
    cache_hit_rate: float | None = None
    cost_per_success: float | None = None
    tokens_per_usd: float | None = None


@dataclass
class BudgetUse:
    budget: str
    scope: str
    per: str
    limit_usd: float
    spent_usd: float
    used: float
    window: str
    resets_at: str | None


@dataclass
class UsageReport:
    by: str
    since: float | None
    until: float
    groups: list[GroupStats]
    total: GroupStats
    budgets: list[BudgetUse] = field(default_factory=list)
    burn_rate_usd_per_day: float = 0.0
    month_to_date_usd: float = 0.0
    forecast_month_usd: float = 0.0
    daily: list[dict[str, Any]] = field(default_factory=list)
    """Per day: cost by provider and latency p50/p95 (what ``--plot`` draws)."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class LedgerOwner(Protocol):
    """What ``usage_stats`` reads from a router: its config and its guards (to
    flush the ledger's queue before reading it)."""

    @property
    def config(self) -> PolyrouteConfig: ...
    @property
    def guards(self) -> Sequence[Guard]: ...


def ledger_path(router: LedgerOwner) -> Path | None:
    cfg = router.config
    if cfg.ledger is None:
        return None
    return resolve_path(cfg.ledger.path, cfg.source)


def usage_stats(
    source: LedgerOwner | str | os.PathLike[str],
    *,
    by: GroupBy = "model",
    since: str | float | None = "30d",
    budgets: Iterable[BudgetConfig] | None = None,
    timezone: str = "UTC",
    now: float | None = None,
) -> UsageReport:
    """Figures from the ledger of ``source`` (a router, or a ledger file path).

    ``since``: a duration back from now (``"7d"``), epoch seconds, or ``None``
    for all time. ``budgets`` default to the router's.
    """
    now = time.time() if now is None else now
    if isinstance(source, str | os.PathLike):
        path: Path | None = Path(source)
    else:
        from polyroute.budgets.guard import CostGuard
        from polyroute.cost.wiring import find_guard

        guard = find_guard(source, CostGuard)
        if isinstance(guard, CostGuard) and guard.ledger is not None:
            guard.ledger.flush()
        path = ledger_path(source)
        if budgets is None:
            budgets = source.config.budgets
    if path is None:
        raise ValueError("no usage ledger: add `ledger: {}` to the config")
    start = None
    if since is not None:
        start = float(since) if isinstance(since, int | float) else now - (
            parse_duration(since) or 0.0)
    tz = zone(timezone)
    conn = connect_ledger(path, create=False)
    try:
        rolled = rollups_ready(conn)
        if rolled and _count(conn, start, now) > ROLLUP_FROM:
            report = _from_rollups(conn, start, now, by, tz)
        else:
            rows = _rows(conn, start, now)
            report = _aggregate(rows, by, tz)
            report.daily = _daily(rows, tz)
        report.since, report.until = start, now
        _trend(conn, report, tz, now, rolled)
        report.budgets = [_budget_use(conn, b, now, rolled) for b in budgets or ()]
    finally:
        conn.close()
    return report


def _count(conn: sqlite3.Connection, start: float | None, end: float) -> int:
    sql, args = "SELECT COUNT(*) FROM calls WHERE ts <= ?", [end]
    if start is not None:
        sql, args = sql + " AND ts >= ?", [end, start]
    return int(conn.execute(sql, args).fetchone()[0])


def _from_rollups(conn: sqlite3.Connection, start: float | None, end: float, by: str,
                  tz: Any) -> UsageReport:
    groups, total, days, day_cost = rolled_groups(conn, start, end, by, tz)
    stats = [_acc_stats(k, a) for k, a in sorted(groups.items())]
    if by != "day":
        stats.sort(key=lambda s: (-s.cost_usd, -s.requests, s.key))
    report = UsageReport(by, None, 0.0, stats, _acc_stats("total", total))
    report.daily = [{"day": d, "cost_by_provider": day_cost.get(d, {}),
                     "p50_ms": percentile_of(days[d].latency, 0.5),
                     "p95_ms": percentile_of(days[d].latency, 0.95)} for d in sorted(days)]
    return report


def _acc_stats(key: str, acc: Acc) -> GroupStats:
    """``_stats`` from rollup sums: the same figures, percentiles from histograms."""
    s = acc.sums
    out = GroupStats(key, requests=round(s["requests"]), succeeded=round(s["succeeded"]),
                     failed=round(s["failed"]), input_tokens=round(s["input_tokens"]),
                     output_tokens=round(s["output_tokens"]),
                     cached_tokens=round(s["cached_tokens"]),
                     reasoning_tokens=round(s["reasoning_tokens"]), cost_usd=s["cost_usd"],
                     unpriced=round(s["unpriced"]), saved_usd=s["saved_usd"])
    out.p50_ms, out.p95_ms = percentile_of(acc.latency, 0.5), percentile_of(acc.latency, 0.95)
    out.ttft_p50_ms = percentile_of(acc.ttft, 0.5)
    out.tokens_per_s = s["gen_tokens"] / s["gen_seconds"] if s["gen_seconds"] > 0 else None
    if out.requests:
        out.success_rate = out.succeeded / out.requests
        out.cache_hit_rate = s["hits"] / out.requests
    if out.succeeded:
        out.fallback_rate = s["fallbacks"] / out.succeeded
        out.cost_per_success = out.cost_usd / out.succeeded
    if out.cost_usd > 0:
        out.tokens_per_usd = (out.input_tokens + out.output_tokens) / out.cost_usd
    return out


def _rows(conn: sqlite3.Connection, start: float | None, end: float) -> list[dict[str, Any]]:
    sql = f"SELECT {', '.join(_COLS)} FROM calls WHERE ts <= ?"
    args: list[Any] = [end]
    if start is not None:
        sql += " AND ts >= ?"
        args.append(start)
    return [dict(zip(_COLS, r, strict=True)) for r in conn.execute(sql + " ORDER BY ts", args)]


def _group_key(row: dict[str, Any], by: str, tz: Any) -> str:
    if by == "day":
        return datetime.fromtimestamp(row["ts"], tz).strftime("%Y-%m-%d")
    if by == "model":
        return f"{row['provider']}/{row['model']}" if row["provider"] else "-"
    return str(row.get(by) or "-")


def _aggregate(rows: list[dict[str, Any]], by: str, tz: Any) -> UsageReport:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[_group_key(row, by, tz)].append(row)
    stats = [_stats(k, g) for k, g in sorted(groups.items())]
    if by != "day":
        stats.sort(key=lambda s: (-s.cost_usd, -s.requests, s.key))
    return UsageReport(by, None, 0.0, stats, _stats("total", rows))


def _stats(key: str, rows: list[dict[str, Any]]) -> GroupStats:
    s = GroupStats(key, requests=len(rows))
    lat: list[float] = []
    ttft: list[float] = []
    gen_tokens = 0
    gen_seconds = 0.0
    hits = fallbacks = 0
    for r in rows:
        ok = r["status"] != "error"
        hit = bool(r["cache_hit"])
        hits += hit
        if not ok:
            s.failed += 1
            continue
        s.succeeded += 1
        fallbacks += bool(r["fallback"])
        s.input_tokens += r["input_tokens"] or 0
        s.output_tokens += r["output_tokens"] or 0
        s.cached_tokens += r["cached_tokens"] or 0
        s.reasoning_tokens += r["reasoning_tokens"] or 0
        s.saved_usd += r["cost_saved_usd"] or 0.0
        if r["cost_usd"] is None:
            s.unpriced += 1
        else:
            s.cost_usd += r["cost_usd"]
        if hit:
            continue
        if r["latency_ms"] is not None:
            lat.append(r["latency_ms"])
        if r["ttft_ms"] is not None:
            ttft.append(r["ttft_ms"])
        out = r["output_tokens"] or 0
        span = (r["latency_ms"] or 0.0) - (r["ttft_ms"] or 0.0)
        if out and span > 0:
            gen_tokens += out
            gen_seconds += span / 1000.0
    n = s.requests
    s.p50_ms, s.p95_ms = percentile(lat, 0.5), percentile(lat, 0.95)
    s.ttft_p50_ms = percentile(ttft, 0.5)
    s.tokens_per_s = gen_tokens / gen_seconds if gen_seconds else None
    if n:
        s.success_rate = s.succeeded / n
        s.cache_hit_rate = hits / n
    if s.succeeded:
        s.fallback_rate = fallbacks / s.succeeded
        s.cost_per_success = s.cost_usd / s.succeeded
    if s.cost_usd > 0:
        s.tokens_per_usd = (s.input_tokens + s.output_tokens) / s.cost_usd
    return s


def _spent(conn: sqlite3.Connection, start: float, end: float, rolled: bool,
           where: str = "", args: tuple[Any, ...] = ()) -> float:
    if rolled:
        return cost_between(conn, start, end, where, args)
    extra = f" AND ({where})" if where else ""
    return float(conn.execute(f"SELECT COALESCE(SUM(cost_usd), 0) FROM calls WHERE ts >= ? "
                              f"AND ts <= ?{extra}", (start, end, *args)).fetchone()[0])


def _trend(conn: sqlite3.Connection, report: UsageReport, tz: Any, now: float,
           rolled: bool = False) -> None:
    week = _spent(conn, now - 7 * 86400, now, rolled)
    month = window_at("month", tz, now)
    mtd = _spent(conn, month.start, now, rolled)
    report.burn_rate_usd_per_day = float(week) / 7.0
    report.month_to_date_usd = float(mtd)
    local = datetime.fromtimestamp(now, tz)
    days_in_month = calendar.monthrange(local.year, local.month)[1]
    left = max(0.0, (month.end or now) - now) / 86400.0 if month.end else 0.0
    left = min(left, float(days_in_month))
    report.forecast_month_usd = report.month_to_date_usd + report.burn_rate_usd_per_day * left


def _budget_use(conn: sqlite3.Connection, b: BudgetConfig, now: float,
                rolled: bool = False) -> BudgetUse:
    if b.per == "request":
        return BudgetUse(b.label, b.scope, b.per, b.usd, 0.0, 0.0, "per request", None)
    window = window_at(b.per, zone(b.timezone), now)
    kind, _, value = b.scope.partition(":")
    filters = {"global": ("", ()), "provider": ("provider = ?", (value,)),
               "agent": ("agent = ?", (value,))}
    if kind == "model":
        prov, sep, name = value.replace("/", ":").partition(":")
        filters["model"] = (("provider = ? AND model = ?", (prov, name)) if sep
                            else ("model = ?", (value,)))
    if kind in filters:  # in SQL (from the rollups when built), not row by row in Python
        where, args = filters[kind]
        spent = _spent(conn, window.start, now, rolled, where, args)
        return BudgetUse(b.label, b.scope, b.per, b.usd, spent, spent / b.usd, window.id,
                         window.resets_at)
    sql = "SELECT cost_usd, provider, model, agent, tags FROM calls WHERE ts >= ? AND ts <= ?"
    spent = 0.0
    for cost, provider, model, agent, tags in conn.execute(sql, (window.start, now)):
        if cost is None:
            continue
        if kind == "global" or (kind == "provider" and provider == value) or (
            kind == "agent" and agent == value
        ) or (kind == "model" and value in (model, f"{provider}:{model}", f"{provider}/{model}")):
            spent += cost
        elif kind == "tag" and tags:
            k, _, v = value.partition("=")
            if json.loads(tags).get(k.strip()) == v.strip():
                spent += cost
    return BudgetUse(b.label, b.scope, b.per, b.usd, spent, spent / b.usd, window.id,
                     window.resets_at)


def _daily(rows: list[dict[str, Any]], tz: Any) -> list[dict[str, Any]]:
    days: dict[str, dict[str, Any]] = {}
    lat: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        day = datetime.fromtimestamp(r["ts"], tz).strftime("%Y-%m-%d")
        d = days.setdefault(day, {"day": day, "cost_by_provider": defaultdict(float)})
        if r["cost_usd"]:
            d["cost_by_provider"][r["provider"] or "-"] += r["cost_usd"]
        if r["status"] != "error" and not r["cache_hit"] and r["latency_ms"] is not None:
            lat[day].append(r["latency_ms"])
    out = []
    for day in sorted(days):
        d = days[day]
        d["cost_by_provider"] = dict(d["cost_by_provider"])
        d["p50_ms"] = percentile(lat[day], 0.5)
        d["p95_ms"] = percentile(lat[day], 0.95)
        out.append(d)
    return out


def utc_iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
