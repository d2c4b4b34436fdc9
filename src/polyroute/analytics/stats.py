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
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from polyroute.budgets.windows import window_at, zone
from polyroute.config.cost import BudgetConfig, parse_duration, resolve_path
from polyroute.ledger.reader import open_reader
from polyroute.ledger.rollup import (
    BUCKET_SECONDS,
    DAY_SECONDS,
    ROLLUP_SOURCE_COLUMNS,
    TABLES,
    Agg,
    ExactSum,
    Latencies,
    RollupCorrupt,
    agg_of_row,
    bucket_of,
    exact_percentile,
    read_rollups,
)
from polyroute.ledger.rollup_days import days_current
from polyroute.ledger.store import rollups_current
from polyroute.logs import get_logger

if TYPE_CHECKING:
    from polyroute.config.schema import PolyrouteConfig
    from polyroute.guard_base import Guard

__all__ = ["BudgetUse", "GroupStats", "UsageReport", "ledger_path", "percentile", "usage_stats"]

logger = get_logger("usage")

GroupBy = Literal["model", "provider", "agent", "day", "route", "tenant"]


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank-interpolated percentile of ``values`` (``q`` in 0..1); ``None`` if empty."""
    return exact_percentile(values, q)


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
        target: str | None = os.fspath(source)
    else:
        from polyroute.budgets.guard import CostGuard
        from polyroute.cost.wiring import find_guard

        guard = find_guard(source, CostGuard)
        if isinstance(guard, CostGuard) and guard.ledger is not None:
            guard.ledger.flush()
        cfg = source.config
        target = None if cfg.ledger is None else cfg.ledger.target(cfg.source)
        if budgets is None:
            budgets = source.config.budgets
    if target is None:
        raise ValueError("no usage ledger: add `ledger: {}` to the config")
    start = None
    if since is not None:
        start = float(since) if isinstance(since, int | float) else now - (
            parse_duration(since) or 0.0)
    tz = zone(timezone)
    budgets = list(budgets or ())
    with open_reader(target) as (conn, ph):
        src = UsageSource(conn, tz, ph)
        month = window_at("month", tz, now).start
        starts = [start, now - 7 * 86400, month] + [
            window_at(b.per, zone(b.timezone), now).start for b in budgets
            if b.per != "request"]
        src.prefetch(None if None in starts else min(s for s in starts if s is not None), now)
        aggs = src.collect(start, now, days=True)
        report = _aggregate(aggs, by, tz)
        report.since, report.until = start, now
        _trend(src, report, tz, now)
        report.budgets = [_budget_use(src, b, now) for b in budgets]
        report.daily = _daily(aggs, tz)
    return report


class UsageSource:
    """Reads a ledger as ``Agg`` records: day rollups for whole UTC days, hour rollups
    for the other whole hours and raw rows only for the partial hours at the edges (or
    raw rows only, when the ledger has no complete rollups or a day boundary of ``tz``
    falls inside an hour)."""

    def __init__(self, conn: Any, tz: Any, ph: str = "?") -> None:
        self.conn, self.tz, self.ph = conn, tz, ph
        self.use_rollups = rollups_current(conn, ph)
        self.use_days = self.use_rollups and days_current(conn, ph)
        self.rollup_reads = 0
        self._read: tuple[int | None, int, bool, list[Agg]] | None = None

    def prefetch(self, start: float | None, end: float) -> None:
        """Read the rollups of ``[start, end]`` once; later ranges inside it (the
        trend, budget windows) are cut from memory instead of read again."""
        if self.use_rollups:
            lo = None if start is None else bucket_of(start)
            self._whole_hours(lo, bucket_of(end), self.use_days)

    def _whole_hours(self, lo: int | None, hi: int, days: bool) -> list[Agg]:
        got = self._read
        if got is not None and got[2] == days and (
                got[0] is None or (lo is not None and got[0] <= lo)) and hi <= got[1]:
            inside = [a for a in got[3] if (lo is None or a.ts >= lo) and a.ts < hi]
            # a day row the range starts or ends inside cannot be cut: read again
            if not any(a.span > BUCKET_SECONDS and (a.ts < hi < a.ts + a.span or (
                    lo is not None and a.ts < lo < a.ts + a.span)) for a in got[3]):
                return inside
        try:
            whole = self._read_whole(lo, hi, days)
        except RollupCorrupt as exc:  # derived data: the raw rows say the same
            logger.warning("usage ledger: %s", exc)
            self.use_rollups = self.use_days = False
            self._read = None
            return self.raw(lo, hi, before=True)
        self.rollup_reads += 1
        if got is None:
            self._read = (lo, hi, days, whole)
        return whole

    def _read_whole(self, lo: int | None, hi: int, days: bool) -> list[Agg]:
        """Whole hours ``[lo, hi)``: the whole UTC days inside from the day rollups."""
        first = None if lo is None else -(-lo // DAY_SECONDS) * DAY_SECONDS
        last = hi - hi % DAY_SECONDS
        if not days or (first is not None and first >= last):
            return read_rollups(self.conn, self.ph, lo, hi)
        head = [] if lo is None or first is None or lo == first else \
            read_rollups(self.conn, self.ph, lo, first)
        return [*head, *read_rollups(self.conn, self.ph, first, last, DAY_SECONDS),
                *read_rollups(self.conn, self.ph, last, hi)]

    def raw(self, start: float | None, end: float, *, before: bool = False) -> list[Agg]:
        """Raw rows with ``start <= ts <= end`` (``ts < end`` if ``before``)."""
        ph = self.ph
        sql = (f"SELECT {', '.join(ROLLUP_SOURCE_COLUMNS)} FROM calls "
               f"WHERE ts {'<' if before else '<='} {ph}")
        args: list[Any] = [end]
        if start is not None:
            sql += f" AND ts >= {ph}"
            args.append(start)
        return [agg_of_row(r) for r in self.conn.execute(sql, args)]

    def collect(self, start: float | None, end: float, *, days: bool = False) -> list[Agg]:
        """Calls with ``start <= ts <= end``. ``days``: the result is grouped by local
        day too, so no rollup row may straddle a day boundary of ``tz``."""
        if not self.use_rollups:
            return self.raw(start, end)
        lo = None if start is None else bucket_of(start) + (
            0 if start % BUCKET_SECONDS == 0 else BUCKET_SECONDS)
        hi = bucket_of(end)
        if lo is not None and lo >= hi:
            return self.raw(start, end)
        # UTC day rows straddle the local days of any other offset: hours then
        whole = self._whole_hours(lo, hi, self.use_days and (not days or self._utc_days(lo, hi)))
        if days and not self._hours_align(whole):
            return self.raw(start, end)
        left = [] if lo is None else self.raw(start, lo, before=True)
        return left + whole + self.raw(hi, end)

    def _utc_days(self, lo: int | None, hi: int) -> bool:
        """Whether ``tz``'s days are UTC days over ``[lo, hi)`` (its offset is 0 at both
        ends of each day there that has day rows), so the day rollups group by its days
        too. Only days with data are checked: ``since`` may reach far before them."""
        if str(self.tz) in ("UTC", "Etc/UTC", "GMT", "Etc/GMT"):
            return True
        (oldest,) = self.conn.execute(f"SELECT MIN(bucket) FROM {TABLES[DAY_SECONDS]}").fetchone()
        if oldest is None:
            return False  # no day rows: the hours
        first = int(oldest) if lo is None else max(int(oldest), lo - lo % DAY_SECONDS)
        return all(datetime.fromtimestamp(t, self.tz).utcoffset() == timedelta(0)
                   for d in range(first, hi + DAY_SECONDS, DAY_SECONDS)
                   for t in (d, d + DAY_SECONDS - 1))

    def _hours_align(self, aggs: list[Agg]) -> bool:
        for b in {a.ts for a in aggs}:
            local = datetime.fromtimestamp(b, self.tz)
            if local.minute or local.second:
                return False
        return True


def _group_key(a: Agg, by: str, tz: Any) -> str:
    if by == "day":
        return datetime.fromtimestamp(a.ts, tz).strftime("%Y-%m-%d")
    if by == "model":
        return f"{a.provider}/{a.model}" if a.provider else "-"
    return str(getattr(a, by) or "-")


def _aggregate(aggs: list[Agg], by: str, tz: Any) -> UsageReport:
    # Each group is first summed per (ok, hit), so the total adds a few sums, not
    # every hour of every key again.
    groups: dict[str, dict[tuple[bool, bool], Agg]] = defaultdict(dict)
    days = _DayNames(tz)
    for a in aggs:
        key = days(a.ts) if by == "day" else _group_key(a, by, tz)
        parts = groups[key]
        part = parts.get((a.ok, a.hit))
        if part is None:
            part = parts[(a.ok, a.hit)] = Agg(0.0, None, None, None, None, None, ok=a.ok,
                                                  hit=a.hit)
        part.add(a)
    stats = [_stats(k, list(g.values())) for k, g in sorted(groups.items())]
    if by != "day":
        stats.sort(key=lambda s: (-s.cost_usd, -s.requests, s.key))
    every = [part for g in groups.values() for part in g.values()]
    return UsageReport(by, None, 0.0, stats, _stats("total", every))


class _DayNames:
    """``YYYY-MM-DD`` of a time in ``tz``, remembered per time (rollups share hours)."""

    def __init__(self, tz: Any) -> None:
        self.tz = tz
        self.seen: dict[float, str] = {}

    def __call__(self, ts: float) -> str:
        got = self.seen.get(ts)
        if got is None:
            got = self.seen[ts] = datetime.fromtimestamp(ts, self.tz).strftime("%Y-%m-%d")
        return got


def _stats(key: str, aggs: list[Agg]) -> GroupStats:
    s = GroupStats(key)
    cost, saved, gen_ms = ExactSum(), ExactSum(), ExactSum()
    lat, ttft = Latencies(), Latencies()
    gen_tokens = hits = fallbacks = 0
    for a in aggs:
        s.requests += a.calls
        if a.hit:
            hits += a.calls
        if not a.ok:
            s.failed += a.calls
            continue
        s.succeeded += a.calls
        fallbacks += a.fallbacks
        s.input_tokens += a.input_tokens
        s.output_tokens += a.output_tokens
        s.cached_tokens += a.cached_tokens
        s.reasoning_tokens += a.reasoning_tokens
        saved.merge(a.saved)
        s.unpriced += a.unpriced
        cost.merge(a.cost)
        if a.hit:
            continue
        lat.merge(a.latency)
        ttft.merge(a.ttft)
        gen_tokens += a.gen_tokens
        gen_ms.merge(a.gen_ms)
    s.cost_usd, s.saved_usd = cost.value(), saved.value()
    n = s.requests
    s.p50_ms, s.p95_ms = lat.percentile(0.5), lat.percentile(0.95)
    s.ttft_p50_ms = ttft.percentile(0.5)
    gen_seconds = gen_ms.value() / 1000.0
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


def _cost(aggs: Iterable[Agg]) -> float:
    total = ExactSum()
    for a in aggs:
        total.merge(a.cost)
    return total.value()


def _trend(src: UsageSource, report: UsageReport, tz: Any, now: float) -> None:
    week = _cost(src.collect(now - 7 * 86400, now))
    month = window_at("month", tz, now)
    mtd = _cost(src.collect(month.start, now))
    report.burn_rate_usd_per_day = week / 7.0
    report.month_to_date_usd = mtd
    local = datetime.fromtimestamp(now, tz)
    days_in_month = calendar.monthrange(local.year, local.month)[1]
    left = max(0.0, (month.end or now) - now) / 86400.0 if month.end else 0.0
    left = min(left, float(days_in_month))
    report.forecast_month_usd = report.month_to_date_usd + report.burn_rate_usd_per_day * left


def _budget_use(src: UsageSource, b: BudgetConfig, now: float) -> BudgetUse:
    if b.per == "request":
        return BudgetUse(b.label, b.scope, b.per, b.usd, 0.0, 0.0, "per request", None)
    window = window_at(b.per, zone(b.timezone), now)
    kind, _, value = b.scope.partition(":")
    spent = ExactSum()
    if kind == "tag":  # tags are not in the rollups: raw rows
        k, _, v = value.partition("=")
        sql = (f"SELECT cost_usd, tags FROM calls WHERE ts >= {src.ph} AND ts <= {src.ph} "
               "AND cost_usd IS NOT NULL AND tags IS NOT NULL")
        for cost, tags in src.conn.execute(sql, (window.start, now)):
            if json.loads(tags).get(k.strip()) == v.strip():
                spent.add(cost)
    else:
        for a in src.collect(window.start, now):
            if kind == "global" or (kind == "provider" and a.provider == value) or (
                kind == "agent" and a.agent == value
            ) or (kind == "model" and value in (a.model, f"{a.provider}:{a.model}",
                                                f"{a.provider}/{a.model}")):
                spent.merge(a.cost)
    used = spent.value()
    return BudgetUse(b.label, b.scope, b.per, b.usd, used, used / b.usd, window.id,
                     window.resets_at)


def _daily(aggs: list[Agg], tz: Any) -> list[dict[str, Any]]:
    days: dict[str, dict[str, ExactSum]] = {}
    lat: dict[str, Latencies] = defaultdict(Latencies)
    names = _DayNames(tz)
    for a in aggs:
        day = names(a.ts)
        d = days.setdefault(day, {})
        if a.cost.scaled or a.cost.special:
            d.setdefault(a.provider or "-", ExactSum()).merge(a.cost)
        if a.ok and not a.hit:
            lat[day].merge(a.latency)
    out = []
    for day in sorted(days):
        out.append({"day": day,
                    "cost_by_provider": {p: c.value() for p, c in days[day].items()},
                    "p50_ms": lat[day].percentile(0.5), "p95_ms": lat[day].percentile(0.95)})
    return out


def utc_iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")
