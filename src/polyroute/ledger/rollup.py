"""Pre-aggregated usage: one ``usage_rollup`` row per hour, agent, route, provider,
model, tenant, outcome (ok / error), cache hit, kept in the same transaction as the
call rows it sums, so a crash mid-batch loses or keeps both together.

Each rollup row's ``data`` holds what ``polyroute usage`` needs from those calls:
counts, token sums, exact cost sums, and fixed log-bucket histograms of latency and
time to first token. Why exact sums: a rollup adds costs in a different order than a
scan of the raw rows, and float addition is order-dependent; summing each float as an
exact integer (every finite double is a multiple of 2**-1074) and rounding once at the
end gives the same correctly rounded figure however the rows were grouped.

Percentiles from the histograms are within ``LATENCY_ERROR`` (relative) of the exact
ones when every latency is ≥ 1 ms, and within ``LATENCY_ERROR`` x the exact value +
0.5 ms for latencies ≥ 0 (values under 1 ms count as 0.5 ms; a negative latency, a
clock stepping back, counts as 0.5 ms too and is outside the bound).

Usage queries read rollups for whole hours and raw rows only for the partial hours
at the edges of a range (``polyroute.analytics.stats``).

The SQL here is the subset SQLite and PostgreSQL share; ``ph`` is the driver's
placeholder (``?`` or ``%s``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from polyroute.errors import PolyrouteError
from polyroute.ledger.rollup_sums import (  # ExactSum, Latencies: re-exported
    _NO_VALUES,
    LATENCY_ERROR,
    ExactSum,
    Latencies,
    _dump_packed,
    _exact,
    _load_packed,
    exact_percentile,
    pack,
)
from polyroute.logs import get_logger

__all__ = [
    "BUCKET_SECONDS", "DAY_SECONDS", "LATENCY_ERROR", "ROLLUP_SOURCE_COLUMNS", "TABLES", "Agg",
    "ExactSum", "Latencies", "RollupCorrupt", "agg_of_row", "apply_rows", "bucket_of",
    "exact_percentile", "load_or_rebuild", "merge_aggs", "read_rollups", "rollup_schema",
]

BUCKET_SECONDS = 3600
DAY_SECONDS = 86400
TABLES = {BUCKET_SECONDS: "usage_rollup", DAY_SECONDS: "usage_rollup_day"}
"""Rollup table per bucket width: hours, and whole UTC days summed from the same rows
(a month's report reads ~30 day rows per key instead of ~720 hour rows)."""
_COUNTS = ("calls", "fallbacks", "unpriced", "gen_tokens", "input_tokens", "output_tokens",
           "cached_tokens", "reasoning_tokens")
_NONE = "\x1e"  # how a NULL key value is stored (key columns are part of the primary key)

ROLLUP_SOURCE_COLUMNS: tuple[str, ...] = (
    "ts", "agent", "route", "provider", "model", "tenant", "status", "cache_hit", "fallback",
    "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens", "cost_usd",
    "cost_saved_usd", "latency_ms", "ttft_ms",
)
_KEY = ("agent", "route", "provider", "model", "tenant")
_TOKENS = ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")


def rollup_schema(text: str = "TEXT", integer: str = "INTEGER") -> str:
    keys = ", ".join(f"{k} {text} NOT NULL" for k in _KEY)
    tables = "".join(f"""
CREATE TABLE IF NOT EXISTS {table} (
    bucket {integer} NOT NULL, {keys}, ok {integer} NOT NULL, hit {integer} NOT NULL,
    data {text} NOT NULL,
    PRIMARY KEY (bucket, {", ".join(_KEY)}, ok, hit));""" for table in TABLES.values())
    return tables + f"""
CREATE TABLE IF NOT EXISTS ledger_meta (key {text} PRIMARY KEY, value {text});
"""


def _pick_loads() -> Callable[[str], Any]:
    """orjson when installed (it parses rollup rows ~3x faster; langsmith, for one,
    brings it), else the json module. orjson refuses ``Infinity`` (an infinite cost
    sum), which falls back to the json module."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - the standard library only
        return json.loads

    def loads(text: str) -> Any:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            return json.loads(text)

    return loads


_loads = _pick_loads()


logger = get_logger("ledger")
_UNREADABLE = (ValueError, KeyError, TypeError, IndexError, AttributeError)
"""What a hand-edited or damaged rollup ``data`` text raises while it is read."""


def _counted(d: Any, text: str) -> Any:
    """``d`` (a rollup row's ``data``, parsed), its counts checked: whole numbers ≥ 0.
    orjson reads an integer past 64 bits as a float: those rows are parsed again by
    the json module. ``ValueError`` (or ``KeyError``) for anything else."""
    if any(type(d[k]) is not int or d[k] < 0 for k in _COUNTS):
        d = json.loads(text)
        if any(type(d[k]) is not int or d[k] < 0 for k in _COUNTS):
            raise ValueError("a count is not a whole number >= 0")
    return d


class RollupCorrupt(PolyrouteError):
    """A rollup row's ``data`` cannot be read. Rollups are derived from the raw rows:
    readers fall back to those, and the writer rebuilds the row from them."""

    def __init__(self, table: str, bucket: Any, detail: str) -> None:
        self.table, self.bucket = table, bucket
        super().__init__(
            f"rollup row of {table} at bucket {bucket!r} cannot be read ({detail}) — fix: "
            "nothing to do; usage reads the raw rows instead, and the next write to that "
            "hour rebuilds the row from them")


def bucket_of(ts: float) -> int:
    return int(ts // BUCKET_SECONDS) * BUCKET_SECONDS


@dataclass
class Agg:
    """Calls sharing a key: one raw row (``whole`` False, ``ts`` its time) or one rollup
    row (``whole`` True, ``ts`` its hour)."""

    ts: float
    agent: Any
    route: Any
    provider: Any
    model: Any
    tenant: Any
    ok: bool
    hit: bool
    whole: bool = False
    calls: int = 0
    fallbacks: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost: ExactSum = field(default_factory=ExactSum)
    unpriced: int = 0
    """Calls with no cost (price unknown)."""
    saved: ExactSum = field(default_factory=ExactSum)
    gen_tokens: int = 0
    gen_ms: ExactSum = field(default_factory=ExactSum)
    latency: Latencies = field(default_factory=Latencies)
    ttft: Latencies = field(default_factory=Latencies)
    span: int = BUCKET_SECONDS
    """Seconds a rollup row covers from ``ts`` (an hour, or a UTC day)."""

    def key(self) -> tuple[Any, ...]:
        return (self.agent, self.route, self.provider, self.model, self.tenant, self.ok,
                self.hit)

    def add(self, other: Agg) -> None:
        self.calls += other.calls
        self.fallbacks += other.fallbacks
        self.input_tokens += other.input_tokens  # spelled out: this runs per rollup row
        self.output_tokens += other.output_tokens
        self.cached_tokens += other.cached_tokens
        self.reasoning_tokens += other.reasoning_tokens
        self.cost.merge(other.cost)
        self.unpriced += other.unpriced
        self.saved.merge(other.saved)
        self.gen_tokens += other.gen_tokens
        self.gen_ms.merge(other.gen_ms)
        self.latency.merge(other.latency)
        self.ttft.merge(other.ttft)

    def dump(self) -> str:
        d: dict[str, Any] = {"calls": self.calls, "fallbacks": self.fallbacks,
                             "cost": self.cost.dump(), "unpriced": self.unpriced,
                             "saved": self.saved.dump(), "gen_tokens": self.gen_tokens,
                             "gen_ms": self.gen_ms.dump()}
        for t in _TOKENS:
            d[t] = getattr(self, t)
        d["lat"] = _dump_packed(self.latency.total())
        d["ttft"] = _dump_packed(self.ttft.total())
        return json.dumps(d, separators=(",", ":"))

    def load(self, text: str) -> None:
        d = _counted(json.loads(text), text)
        self.calls, self.fallbacks = d["calls"], d["fallbacks"]
        for t in _TOKENS:
            setattr(self, t, d[t])
        self.cost, self.saved = ExactSum.load(d["cost"]), ExactSum.load(d["saved"])
        self.gen_ms = ExactSum.load(d["gen_ms"])
        self.unpriced, self.gen_tokens = d["unpriced"], d["gen_tokens"]
        self.latency = Latencies(_NO_VALUES, _load_packed(d["lat"]))
        self.ttft = Latencies(_NO_VALUES, _load_packed(d["ttft"]))


def agg_of_row(r: Sequence[Any]) -> Agg:
    """One raw row (values in ``ROLLUP_SOURCE_COLUMNS`` order) as an ``Agg``, with the
    same reading of each field as ``polyroute usage`` has always had."""
    (ts, agent, route, provider, model, tenant, status, cache_hit, fallback, inp, out, cached,
     reasoning, cost, saved, latency, ttft) = r
    a = Agg(ts, agent, route, provider, model, tenant, ok=status != "error",
            hit=bool(cache_hit), calls=1, fallbacks=int(bool(fallback)),
            input_tokens=inp or 0, output_tokens=out or 0, cached_tokens=cached or 0,
            reasoning_tokens=reasoning or 0, unpriced=int(cost is None),
            gen_tokens=0)
    if cost is not None:
        a.cost.add(cost)
    a.saved.add(saved or 0.0)
    if latency is not None and not math.isnan(latency):
        a.latency.values.append(latency)
    if ttft is not None and not math.isnan(ttft):
        a.ttft.values.append(ttft)
    span = (latency or 0.0) - (ttft or 0.0)
    if out and span > 0:
        a.gen_tokens = out
        a.gen_ms.add(span)
    return a


def _at(bucket: float, key: Sequence[Any], ok: Any, hit: Any) -> Agg:
    agent, route, provider, model, tenant = key
    return Agg(bucket, agent, route, provider, model, tenant, ok=bool(ok), hit=bool(hit),
               whole=True)


def _enc(v: Any) -> str:
    return _NONE if v is None else str(v)


def _dec(v: str) -> str | None:
    return None if v == _NONE else v


def _group(rows: Iterable[Sequence[Any]]) -> dict[tuple[Any, ...], Agg]:
    """The rows summed per rollup key: the same sums as ``agg_of_row`` per row merged
    with ``Agg.add`` (``ExactSum`` is exact in any grouping; latencies keep row order),
    added straight into one ``Agg`` per key. The ledger's writer runs this for every
    batch: an ``Agg`` per row cost ~5 µs of the writer's ~30 µs per call."""
    out: dict[tuple[Any, ...], Agg] = {}
    nan = math.isnan
    for r in rows:
        ts = r[0]
        if not isinstance(ts, int | float) or not math.isfinite(ts):
            continue  # no hour to put it in (such a row is outside every time range too)
        (_, agent, route, provider, model, tenant, status, cache_hit, fallback, inp, out_t,
         cached, reasoning, cost, saved, latency, ttft) = r
        ok, hit = status != "error", bool(cache_hit)
        hour = bucket_of(ts)
        k = (hour, _enc(agent), _enc(route), _enc(provider), _enc(model), _enc(tenant),
             int(ok), int(hit))
        a = out.get(k)
        if a is None:
            a = out[k] = Agg(float(hour), agent, route, provider, model, tenant, ok=ok,
                             hit=hit, whole=True)
        a.calls += 1
        if fallback:
            a.fallbacks += 1
        a.input_tokens += inp or 0
        a.output_tokens += out_t or 0
        a.cached_tokens += cached or 0
        a.reasoning_tokens += reasoning or 0
        if cost is None:
            a.unpriced += 1
        else:
            a.cost.add(cost)
        a.saved.add(saved or 0.0)
        if latency is not None and not nan(latency):
            a.latency.values.append(latency)
        if ttft is not None and not nan(ttft):
            a.ttft.values.append(ttft)
        span = (latency or 0.0) - (ttft or 0.0)
        if out_t and span > 0:
            a.gen_tokens += out_t
            a.gen_ms.add(span)
    return out


def apply_rows(conn: Any, ph: str, added: Iterable[Sequence[Any]],
               removed: Iterable[Sequence[Any]] = (), *, upsert: str | None = None) -> None:
    """Inside the caller's write transaction: add ``added`` raw rows to the rollups (the
    hour and the day tables) and take ``removed`` (rows replaced or deleted) out. The
    caller holds the write lock (SQLite ``BEGIN IMMEDIATE``; an advisory lock on
    PostgreSQL), so read-merge-write is safe across processes. ``upsert``: the
    driver's insert-or-replace statement, with ``{table}`` for the table's name."""
    plus, minus = _group(added), _group(removed)
    apply_groups(conn, ph, TABLES[BUCKET_SECONDS], plus, minus, upsert)
    apply_groups(conn, ph, TABLES[DAY_SECONDS], by_day(plus), by_day(minus), upsert)


def by_day(groups: dict[tuple[Any, ...], Agg]) -> dict[tuple[Any, ...], Agg]:
    """Hour groups summed per UTC day (keys as ``_group``'s, the bucket a day's start)."""
    out: dict[tuple[Any, ...], Agg] = {}
    for k, a in groups.items():
        day = k[0] - k[0] % DAY_SECONDS
        dk = (day, *k[1:])
        got = out.get(dk)
        if got is None:
            got = out[dk] = Agg(float(day), a.agent, a.route, a.provider, a.model, a.tenant,
                                ok=a.ok, hit=a.hit, whole=True, span=DAY_SECONDS)
        got.add(a)
    return out


def apply_groups(conn: Any, ph: str, table: str, plus: dict[tuple[Any, ...], Agg],
                 minus: dict[tuple[Any, ...], Agg], upsert: str | None = None) -> None:
    """Merge ``plus`` into ``table``'s rows and take ``minus`` out (keys: bucket, the
    key columns encoded, ok, hit); a row left with no call is deleted."""
    keys = set(plus) | set(minus)
    if not keys:
        return
    buckets = sorted({k[0] for k in keys})
    current: dict[tuple[Any, ...], Agg] = {}
    rebuilt: set[tuple[Any, ...]] = set()
    q = (f"SELECT bucket, {', '.join(_KEY)}, ok, hit, data FROM {table} "
         f"WHERE bucket IN ({', '.join([ph] * len(buckets))})")
    for row in conn.execute(q, buckets).fetchall():
        k = tuple(row[:8])
        if k in keys:
            current[k], read = load_or_rebuild(conn, ph, table, row)
            if not read:
                rebuilt.add(k)  # the raw rows hold this batch's changes already
    writes = []
    for k in keys:
        a = current.get(k) or _at(k[0], k[1:6], k[6], k[7])
        if k in minus and k not in rebuilt and _special(minus[k]):
            # inf - inf is NaN, not 0: a replaced row that summed an infinity is taken
            # out by summing its bucket's raw rows again (they hold this batch already)
            a = _from_raw(conn, ph, table, k)
            rebuilt.add(k)
        if k in plus and k not in rebuilt:
            a.add(plus[k])
        if k in minus and k not in rebuilt:
            _subtract(a, minus[k])
        writes.append((*k, a.dump()) if a.calls > 0 else None)
        if a.calls <= 0:
            conn.execute(
                f"DELETE FROM {table} WHERE bucket = {ph} AND "
                + " AND ".join(f"{c} = {ph}" for c in (*_KEY, "ok", "hit")), list(k))
    sql = (upsert.format(table=table) if upsert else
           f"INSERT OR REPLACE INTO {table} (bucket, {', '.join(_KEY)}, ok, hit, data) "
           f"VALUES ({', '.join([ph] * 9)})")
    rows = [w for w in writes if w is not None]
    if rows:
        conn.executemany(sql, rows)


def load_or_rebuild(conn: Any, ph: str, table: str, row: Sequence[Any]) -> tuple[Agg, bool]:
    """Rollup ``row`` of ``table`` (bucket, the key columns, ok, hit, data) as an
    ``Agg``; a ``data`` that cannot be read is summed again from the raw rows of its
    bucket instead (logged). The flag is ``False`` when it was."""
    a = _at(row[0], row[1:6], row[6], row[7])
    try:
        a.load(row[8])
        return a, True
    except _UNREADABLE as exc:
        logger.warning("%s; rebuilt from the raw rows",
                       RollupCorrupt(table, row[0], f"{type(exc).__name__}: {exc}"))
    return _from_raw(conn, ph, table, tuple(row[:8])), False


def _from_raw(conn: Any, ph: str, table: str, k: tuple[Any, ...]) -> Agg:
    """Rollup row ``k`` of ``table`` summed again from the raw rows of its bucket."""
    span = next(s for s, t in TABLES.items() if t == table)
    rows = conn.execute(f"SELECT {', '.join(ROLLUP_SOURCE_COLUMNS)} FROM calls "
                        f"WHERE ts >= {ph} AND ts < {ph}", (k[0], k[0] + span)).fetchall()
    groups = _group(rows)
    if span != BUCKET_SECONDS:
        groups = by_day(groups)
    got = groups.get(k)
    return got if got is not None else _at(k[0], k[1:6], k[6], k[7])


def _special(a: Agg) -> bool:
    """``a`` sums an infinity (or a NaN): it cannot be taken out by subtraction."""
    return any(x != 0.0 or x != x for x in (a.cost.special, a.saved.special,
                                             a.gen_ms.special))


def _subtract(a: Agg, b: Agg) -> None:
    a.calls -= b.calls
    a.fallbacks -= b.fallbacks
    for t in _TOKENS:
        setattr(a, t, getattr(a, t) - getattr(b, t))
    a.cost.scaled -= b.cost.scaled
    a.cost.special -= b.cost.special
    a.saved.scaled -= b.saved.scaled
    a.unpriced -= b.unpriced
    a.gen_tokens -= b.gen_tokens
    a.gen_ms.scaled -= b.gen_ms.scaled
    for mine, theirs in ((a.latency, b.latency), (a.ttft, b.ttft)):
        left = mine.counts()
        left.subtract(theirs.counts())
        mine.values, mine.packed = _NO_VALUES, pack({k: v for k, v in left.items() if v > 0})


def read_rollups(conn: Any, ph: str, start: int | None, end: int,
                 span: int = BUCKET_SECONDS) -> list[Agg]:
    """Rollup rows of the whole buckets (hours, or days with ``span=DAY_SECONDS``) in
    ``[start, end)`` (``start`` None: from the first)."""
    sql = (f"SELECT bucket, {', '.join(_KEY)}, ok, hit, data FROM {TABLES[span]} "
           f"WHERE bucket < {ph}")
    args: list[Any] = [end]
    if start is not None:
        sql += f" AND bucket >= {ph}"
        args.append(start)
    out = []
    loads = _loads
    b: Any = None
    try:
        for b, agent, route, provider, model, tenant, ok, hit, data in conn.execute(sql, args):
            d = _counted(loads(data), data)
            # built in one step (not _at + load): this loop is most of a report's time
            out.append(Agg(
                float(b), _dec(agent), _dec(route), _dec(provider), _dec(model),
                _dec(tenant), ok=bool(ok), hit=bool(hit), whole=True, calls=d["calls"],
                fallbacks=d["fallbacks"], input_tokens=d["input_tokens"],
                output_tokens=d["output_tokens"], cached_tokens=d["cached_tokens"],
                reasoning_tokens=d["reasoning_tokens"], cost=_exact(d["cost"]),
                unpriced=d["unpriced"], saved=_exact(d["saved"]), gen_tokens=d["gen_tokens"],
                gen_ms=_exact(d["gen_ms"]),
                latency=Latencies(_NO_VALUES, _load_packed(d["lat"])),
                ttft=Latencies(_NO_VALUES, _load_packed(d["ttft"])), span=span))
    except _UNREADABLE as exc:
        raise RollupCorrupt(TABLES[span], b, f"{type(exc).__name__}: {exc}") from None
    return out


def merge_aggs(aggs: Iterable[Agg]) -> Agg:
    """The sums of ``aggs`` (its key fields mean nothing)."""
    total = Agg(0.0, None, None, None, None, None, ok=True, hit=False)
    for a in aggs:
        total.add(a)
    return total
