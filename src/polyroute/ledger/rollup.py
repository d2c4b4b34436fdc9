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
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BUCKET_SECONDS", "LATENCY_ERROR", "ROLLUP_SOURCE_COLUMNS", "Agg", "ExactSum", "Latencies",
    "agg_of_row", "apply_rows", "bucket_of", "merge_aggs", "read_rollups", "rollup_schema",
]

BUCKET_SECONDS = 3600
_BINS_PER_DOUBLING = 8
LATENCY_ERROR = 2 ** (1 / (2 * _BINS_PER_DOUBLING)) - 1
"""Largest relative error of a percentile read from rollups (≈ 4.4 %)."""
_SCALE = 1074  # every finite double is an integer multiple of 2**-1074
_NONE = "\x1e"  # how a NULL key value is stored (key columns are part of the primary key)
_BELOW_1MS = -1
_INF_BIN = 1_000_000
_NO_VALUES: list[float] = []  # shared by rollup rows, which hold no exact values: never mutated

ROLLUP_SOURCE_COLUMNS: tuple[str, ...] = (
    "ts", "agent", "route", "provider", "model", "tenant", "status", "cache_hit", "fallback",
    "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens", "cost_usd",
    "cost_saved_usd", "latency_ms", "ttft_ms",
)
_KEY = ("agent", "route", "provider", "model", "tenant")
_TOKENS = ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens")


def rollup_schema(text: str = "TEXT", integer: str = "INTEGER") -> str:
    keys = ", ".join(f"{k} {text} NOT NULL" for k in _KEY)
    return f"""
CREATE TABLE IF NOT EXISTS usage_rollup (
    bucket {integer} NOT NULL, {keys}, ok {integer} NOT NULL, hit {integer} NOT NULL,
    data {text} NOT NULL,
    PRIMARY KEY (bucket, {", ".join(_KEY)}, ok, hit));
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


def bucket_of(ts: float) -> int:
    return int(ts // BUCKET_SECONDS) * BUCKET_SECONDS


class ExactSum:
    """A sum of floats without rounding until ``value()``: equal, bit for bit, to
    ``math.fsum`` of the same values in any order and grouping."""

    __slots__ = ("scaled", "special")

    def __init__(self, scaled: int = 0, special: float = 0.0) -> None:
        self.scaled = scaled
        self.special = special  # sum of the infinities (and NaN once they cancel)

    def add(self, x: float) -> None:
        if not x:  # 0.0 (cost saved, most rows): adds nothing; skips the big-int product
            return
        if not math.isfinite(x):
            self.special += x
            return
        n, d = float(x).as_integer_ratio()
        self.scaled += n * ((1 << _SCALE) // d)

    def merge(self, other: ExactSum) -> None:
        self.scaled += other.scaled
        self.special += other.special

    def value(self) -> float:
        if self.special != 0.0 or math.isnan(self.special):
            return self.special
        return self.scaled / (1 << _SCALE)  # int / int rounds correctly

    def dump(self) -> list[Any]:
        """``[mantissa (hex), shift]`` (+ the infinities): the scaled integer is ~1,100
        bits, mostly trailing zeros; written whole it made rollups slow to parse."""
        scaled, special = self.scaled, self.special
        if not scaled:
            return [0, 0, special] if special else [0, 0]
        shift = (scaled & -scaled).bit_length() - 1
        out = [format(scaled >> shift, "x"), shift]
        return [*out, special] if special else out

    @classmethod
    def load(cls, v: Sequence[Any]) -> ExactSum:
        return _exact(v)


def _exact(v: Sequence[Any]) -> ExactSum:
    """``ExactSum.load`` as a plain function: a usage report calls it ~80,000 times."""
    m = v[0]
    scaled = (int(m, 16) if m.__class__ is str else int(m)) << int(v[1]) if m else 0
    return ExactSum(scaled, float(v[2]) if len(v) > 2 else 0.0)


def _bin(v: float) -> int:
    if v < 1.0:
        return _BELOW_1MS
    if math.isinf(v):
        return _INF_BIN
    return math.floor(_BINS_PER_DOUBLING * math.log2(v))


def _rep(b: int) -> float:
    if b == _BELOW_1MS:
        return 0.5
    if b == _INF_BIN:
        return math.inf
    return float(2 ** ((b + 0.5) / _BINS_PER_DOUBLING))  # the bin's geometric middle


# A histogram is one integer: bin b's count in bits [slot*40, slot*40 + 40), slot = b + 1
# (below 1 ms: slot 0; infinity: the slot after the largest finite double's bin). Merging
# two histograms is then one integer addition, done in C, instead of a loop over bins in
# Python: what a usage report over a month of hourly rollups spends most of its time on.
# A field holds 2**40 - 1 (~1.1e12) calls, more than any report's bin can count.
_WIDTH = 40
_FIELD = (1 << _WIDTH) - 1
_FIELD_BYTES = _WIDTH // 8
_INF_SLOT = _BINS_PER_DOUBLING * 1024 + 1  # every finite double is < 2**1024


def _slot(b: int) -> int:
    return _INF_SLOT if b == _INF_BIN else b + 1


def _bin_of_slot(slot: int) -> int:
    return _INF_BIN if slot == _INF_SLOT else slot - 1


def pack(counts: Mapping[int, int]) -> int:
    """Bin counts as one integer (counts must be >= 0)."""
    packed = 0
    for b, n in counts.items():
        if n:
            packed += n << (_slot(b) * _WIDTH)
    return packed


def unpack(packed: int) -> dict[int, int]:
    """The bin counts of a packed histogram (only the non-zero ones)."""
    if not packed:
        return {}
    raw = packed.to_bytes((packed.bit_length() + 7) // 8 + _FIELD_BYTES, "little")
    out = {}
    for slot in range(len(raw) // _FIELD_BYTES):
        n = int.from_bytes(raw[slot * _FIELD_BYTES:(slot + 1) * _FIELD_BYTES], "little")
        if n:
            out[_bin_of_slot(slot)] = n
    return out


def _dump_packed(packed: int) -> list[Any]:
    """``[first slot, hex of the fields from it]``: short, however far up the bins are."""
    if not packed:
        return [0, "0"]
    low = ((packed & -packed).bit_length() - 1) // _WIDTH
    return [low, format(packed >> (low * _WIDTH), "x")]


def _load_packed(v: Any) -> int:
    if isinstance(v, dict):  # rows written before histograms were packed: {"bin": count}
        return pack({int(k): int(n) for k, n in v.items()})
    return int(v[1], 16) << (int(v[0]) * _WIDTH)


@dataclass
class Latencies:
    """Exact values (raw rows) and a packed histogram (rollups). Percentiles are exact
    while there is no histogram; once there is, the exact values join it."""

    values: list[float] = field(default_factory=list)
    packed: int = 0

    @classmethod
    def of_bins(cls, counts: Mapping[int, int]) -> Latencies:
        return cls(_NO_VALUES, pack(counts))

    def merge(self, other: Latencies) -> None:
        if other.values:
            if self.values is _NO_VALUES:
                self.values = []
            self.values.extend(other.values)
        self.packed += other.packed

    def counts(self) -> Counter[int]:
        """Histogram counts, the exact values included."""
        out = Counter(unpack(self.packed))
        out.update(_bin(v) for v in self.values)
        return out

    def percentile(self, q: float) -> float | None:
        if not self.packed:
            return exact_percentile(self.values, q)
        bins = self.counts()
        n = sum(bins.values())
        pos = q * (n - 1)
        lo = int(pos)
        a, b = _ranked(bins, lo), _ranked(bins, min(lo + 1, n - 1))
        return a + (b - a) * (pos - lo) if b != a else a


def _ranked(bins: Counter[int], rank: int) -> float:
    seen = 0
    for b in sorted(bins):
        seen += bins[b]
        if seen > rank:
            return _rep(b)
    raise IndexError(rank)


def exact_percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank-interpolated percentile of ``values`` (``q`` in 0..1); ``None`` if empty."""
    if not values:
        return None
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


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
        d["lat"] = _dump_packed(pack(self.latency.counts()))
        d["ttft"] = _dump_packed(pack(self.ttft.counts()))
        return json.dumps(d, separators=(",", ":"))

    def load(self, text: str) -> None:
        d = json.loads(text)
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
    """Inside the caller's write transaction: add ``added`` raw rows to the rollups and
    take ``removed`` (rows replaced or deleted) out. The caller holds the write lock
    (SQLite ``BEGIN IMMEDIATE``; an advisory lock on PostgreSQL), so read-merge-write
    is safe across processes."""
    plus, minus = _group(added), _group(removed)
    keys = set(plus) | set(minus)
    if not keys:
        return
    buckets = sorted({k[0] for k in keys})
    current: dict[tuple[Any, ...], Agg] = {}
    q = (f"SELECT bucket, {', '.join(_KEY)}, ok, hit, data FROM usage_rollup "
         f"WHERE bucket IN ({', '.join([ph] * len(buckets))})")
    for row in conn.execute(q, buckets).fetchall():
        k = tuple(row[:8])
        if k in keys:
            a = _at(row[0], row[1:6], row[6], row[7])
            a.load(row[8])
            current[k] = a
    writes = []
    for k in keys:
        a = current.get(k) or _at(k[0], k[1:6], k[6], k[7])
        if k in plus:
            a.add(plus[k])
        if k in minus:
            _subtract(a, minus[k])
        writes.append((*k, a.dump()) if a.calls > 0 else None)
        if a.calls <= 0:
            conn.execute(
                f"DELETE FROM usage_rollup WHERE bucket = {ph} AND "
                + " AND ".join(f"{c} = {ph}" for c in (*_KEY, "ok", "hit")), list(k))
    sql = upsert or (f"INSERT OR REPLACE INTO usage_rollup (bucket, {', '.join(_KEY)}, ok, hit, "
                     f"data) VALUES ({', '.join([ph] * 9)})")
    rows = [w for w in writes if w is not None]
    if rows:
        conn.executemany(sql, rows)


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


def read_rollups(conn: Any, ph: str, start: int | None, end: int) -> list[Agg]:
    """Rollup rows of the whole hours in ``[start, end)`` (``start`` None: from the first)."""
    sql = f"SELECT bucket, {', '.join(_KEY)}, ok, hit, data FROM usage_rollup WHERE bucket < {ph}"
    args: list[Any] = [end]
    if start is not None:
        sql += f" AND bucket >= {ph}"
        args.append(start)
    out = []
    loads = _loads
    for b, agent, route, provider, model, tenant, ok, hit, data in conn.execute(sql, args):
        d = loads(data)
        # built in one step (not _at + load): this loop is most of a usage report's time
        out.append(Agg(
            float(b), _dec(agent), _dec(route), _dec(provider), _dec(model), _dec(tenant),
            ok=bool(ok), hit=bool(hit), whole=True, calls=d["calls"], fallbacks=d["fallbacks"],
            input_tokens=d["input_tokens"], output_tokens=d["output_tokens"],
            cached_tokens=d["cached_tokens"], reasoning_tokens=d["reasoning_tokens"],
            cost=_exact(d["cost"]), unpriced=d["unpriced"],
            saved=_exact(d["saved"]), gen_tokens=d["gen_tokens"],
            gen_ms=_exact(d["gen_ms"]),
            latency=Latencies(_NO_VALUES, _load_packed(d["lat"])),
            ttft=Latencies(_NO_VALUES, _load_packed(d["ttft"]))))
    return out


def merge_aggs(aggs: Iterable[Agg]) -> Agg:
    """The sums of ``aggs`` (its key fields mean nothing)."""
    total = Agg(0.0, None, None, None, None, None, ok=True, hit=False)
    for a in aggs:
        total.add(a)
    return total
