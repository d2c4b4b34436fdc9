"""Hourly rollups of the ledger: what usage views read instead of every call.

The writer folds each batch of call rows into ``usage_hourly`` **in the same
transaction** that inserts them, so the rollup and the rows never disagree — a
crash loses both or neither. One rollup row per hour (UTC epoch hour) x provider x
model x agent x route x tenant x outcome holds sums (requests, tokens, cost, unpriced
calls, savings, cache hits, fallbacks, generation tokens and seconds) and two latency
histograms (total and time to first token, each one big integer of 40-bit bucket
counts, so merging is an addition) with log-spaced buckets 5 % wide, from
which p50/p95 are read to within 2.5 % of the exact value (each of the two ranks a
percentile interpolates between is read as its bucket's geometric centre). Sums are
exact.

Hour buckets make any time zone whose offset is a whole number of hours exact for
per-day figures (a :30/:45 zone's day edges are placed to the hour). A ledger written
before rollups existed is folded once, in chunks, when its writer first starts
(``ensure_rollups``).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "BUCKETS", "BUCKET_RATIO", "HOUR", "ROLLUP_SCHEMA", "ROLLUP_VERSION", "SUM_COLS",
    "Acc", "bucket_of", "ensure_rollups", "fold_rows", "percentile_of", "write_rollups",
]

HOUR = 3600.0
BUCKET_RATIO = 1.05
BUCKETS = 300
"""Histogram columns per measure: bucket 0 holds up to 1 ms, the last from ~36 min up."""
_LOG = math.log(BUCKET_RATIO)
_VERSION = 3
ROLLUP_VERSION = str(_VERSION)
# the call columns a rollup reads, in this order
FOLD_COLUMNS = ("ts", "provider", "model", "agent", "route", "tenant", "status", "cache_hit",
                "fallback", "input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens",
                "cost_usd", "cost_saved_usd", "latency_ms", "ttft_ms")
_KEY = ("hour", "provider", "model", "agent", "route", "tenant", "ok")
KEY_COLS = _KEY
_SUMS = ("requests", "succeeded", "failed", "input_tokens", "output_tokens", "cached_tokens",
         "reasoning_tokens", "cost_usd", "unpriced", "saved_usd", "hits", "fallbacks",
         "gen_tokens", "gen_seconds", "failed_cost_usd")
SUM_COLS = _SUMS
_WIDTH = 40  # bits per bucket count: 10^12 calls in one bucket of one hour before overflow
_MASK = (1 << _WIDTH) - 1
# a histogram is stored as one integer holding every bucket's count in its own 40-bit
# field (as little-endian bytes): adding two histograms is one big-integer addition in C,
# so a reader merges thousands of rollup rows in milliseconds
ROLLUP_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS usage_hourly (
  hour INTEGER NOT NULL, provider TEXT NOT NULL, model TEXT NOT NULL, agent TEXT NOT NULL,
  route TEXT NOT NULL, tenant TEXT NOT NULL, ok INTEGER NOT NULL,
  {", ".join(f"{c} REAL NOT NULL DEFAULT 0" for c in _SUMS)},
  latency BLOB, ttft BLOB,
  PRIMARY KEY ({", ".join(_KEY)})
);
CREATE TABLE IF NOT EXISTS rollup_meta (name TEXT PRIMARY KEY, value TEXT);
"""


def bucket_of(ms: float) -> int:
    """The histogram bucket of a latency: ``floor(log_1.05(ms))`` within ``[0, BUCKETS)``."""
    if ms <= 1.0:
        return 0
    return min(BUCKETS - 1, math.floor(math.log(ms) / _LOG))


def _centre(bucket: int) -> float:
    return math.exp((bucket + 0.5) * _LOG)


def percentile_of(hist: dict[int, int], q: float) -> float | None:
    """The ``q`` quantile of a histogram, interpolated between the two ranks around it as
    ``analytics.percentile`` does, each rank read as its bucket's geometric centre
    (within 2.5 % of the value it stands for)."""
    total = sum(hist.values())
    if total == 0:
        return None
    pos = q * (total - 1)
    lo_rank = int(pos)
    lo = hi = None
    seen = 0
    for bucket in sorted(hist):
        seen += hist[bucket]
        if lo is None and seen > lo_rank:
            lo = _centre(bucket)
        if seen > lo_rank + 1 or seen >= total:
            hi = _centre(bucket)
            break
    assert lo is not None and hi is not None
    return lo + (hi - lo) * (pos - lo_rank)


@dataclass
class Acc:
    """Sums and histograms of some calls (a rollup row, or a group of them)."""

    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_SUMS, 0.0))
    latency: dict[int, int] = field(default_factory=dict)
    ttft: dict[int, int] = field(default_factory=dict)

    def add_call(self, row: dict[str, Any], sign: int = 1) -> None:
        s = self.sums
        ok = row["status"] != "error"
        s["requests"] += sign
        s["hits"] += sign * bool(row["cache_hit"])
        if not ok:
            s["failed"] += sign
            s["failed_cost_usd"] += sign * _num(row["cost_usd"])  # a stream cut after output
            return
        s["succeeded"] += sign
        s["fallbacks"] += sign * bool(row["fallback"])
        for c in ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens"):
            s[c] += sign * _num(row[c])
        s["saved_usd"] += sign * _num(row["cost_saved_usd"])
        if row["cost_usd"] is None:
            s["unpriced"] += sign
        else:
            s["cost_usd"] += sign * _num(row["cost_usd"])
        if row["cache_hit"]:
            return
        latency, ttft = row["latency_ms"], row["ttft_ms"]
        if isinstance(latency, int | float) and math.isfinite(latency):
            _count(self.latency, bucket_of(latency), sign)
        if isinstance(ttft, int | float) and math.isfinite(ttft):
            _count(self.ttft, bucket_of(ttft), sign)
        out = _num(row["output_tokens"])
        span = _num(latency) - _num(ttft)
        if out and span > 0:
            s["gen_tokens"] += sign * out
            s["gen_seconds"] += sign * span / 1000.0

    def merge(self, other: Acc) -> None:
        for k, v in other.sums.items():
            self.sums[k] += v
        for hist, more in ((self.latency, other.latency), (self.ttft, other.ttft)):
            for b, n in more.items():
                _count(hist, b, n)


def _num(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else 0.0


def _count(hist: dict[int, int], bucket: int, n: int) -> None:
    left = hist.get(bucket, 0) + n
    if left:
        hist[bucket] = left
    else:
        hist.pop(bucket, None)


def key_of(row: dict[str, Any]) -> tuple[Any, ...]:
    return (int(_num(row["ts"]) // HOUR), row["provider"] or "", row["model"] or "",
            row["agent"] or "", row["route"] or "", row["tenant"] or "",
            int(row["status"] != "error"))


def fold_rows(rows: Iterable[dict[str, Any]], sign: int = 1,
              into: dict[tuple[Any, ...], Acc] | None = None) -> dict[tuple[Any, ...], Acc]:
    out = into if into is not None else {}
    for row in rows:
        acc = out.get(key_of(row))
        if acc is None:
            acc = out[key_of(row)] = Acc()
        acc.add_call(row, sign)
    return out


def pack(hist: dict[int, int]) -> int:
    return sum(n << (_WIDTH * b) for b, n in hist.items())


def unpack(value: int) -> dict[int, int]:
    out: dict[int, int] = {}
    bucket = 0
    while value > 0:
        n = value & _MASK
        if n:
            out[bucket] = n
        value >>= _WIDTH
        bucket += 1
    return out


def to_blob(value: int) -> bytes | None:
    return value.to_bytes((value.bit_length() + 7) // 8, "little") if value > 0 else None


def from_blob(blob: bytes | None) -> int:
    return int.from_bytes(blob, "little") if blob else 0


def write_rollups(conn: Any, folded: dict[tuple[Any, ...], Acc], *, param: str = "?") -> None:
    """Add ``folded`` to ``usage_hourly`` (inside the caller's transaction, which holds
    the write lock: the histogram read-add-write cannot interleave). ``param``: the
    driver's placeholder (``?`` sqlite3, ``%s`` psycopg); the SQL suits both databases."""
    where = " AND ".join(f"{k} = {param}" for k in _KEY)
    names = [*_KEY, *_SUMS, "latency", "ttft"]
    upsert = (f"INSERT INTO usage_hourly ({', '.join(names)}) "
              f"VALUES ({', '.join([param] * len(names))}) "
              f"ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET "
              + ", ".join(f"{c} = usage_hourly.{c} + excluded.{c}" for c in _SUMS)
              + ", latency = excluded.latency, ttft = excluded.ttft")
    for key, acc in folded.items():
        old = conn.execute(f"SELECT latency, ttft FROM usage_hourly WHERE {where}",
                           key).fetchone()
        lat = pack(acc.latency) + (from_blob(old[0]) if old else 0)
        ttft = pack(acc.ttft) + (from_blob(old[1]) if old else 0)
        conn.execute(upsert, (*key, *(acc.sums[c] for c in _SUMS), to_blob(lat),
                              to_blob(ttft)))


def previous_rows(conn: sqlite3.Connection, ids: Sequence[str]) -> list[dict[str, Any]]:
    """Rows about to be replaced (a call recorded twice): their share leaves the rollup."""
    out: list[dict[str, Any]] = []
    for i in range(0, len(ids), 500):
        chunk = ids[i: i + 500]
        out += [dict(zip(FOLD_COLUMNS, r, strict=True)) for r in conn.execute(
            f"SELECT {', '.join(FOLD_COLUMNS)} FROM calls WHERE id IN "
            f"({', '.join('?' * len(chunk))})", chunk)]
    return out


def ensure_rollups(conn: sqlite3.Connection, chunk: int = 50_000) -> int:
    """Fold a ledger written before rollups existed (once); the number of calls folded."""
    conn.executescript(ROLLUP_SCHEMA)
    done = conn.execute("SELECT value FROM rollup_meta WHERE name = 'version'").fetchone()
    if done is not None and done[0] == str(_VERSION):
        return 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        done = conn.execute("SELECT value FROM rollup_meta WHERE name = 'version'").fetchone()
        if done is not None and done[0] == str(_VERSION):  # another process did it meanwhile
            conn.execute("COMMIT")
            return 0
        # an earlier rollup layout (or none): rebuilt from the rows, which are the truth
        conn.execute("DROP TABLE IF EXISTS usage_hourly")
        conn.execute(ROLLUP_SCHEMA.split(";")[0])
        folded: dict[tuple[Any, ...], Acc] = {}
        count = 0
        cursor = conn.execute(f"SELECT {', '.join(FOLD_COLUMNS)} FROM calls")
        while True:
            batch = cursor.fetchmany(chunk)
            if not batch:
                break
            fold_rows((dict(zip(FOLD_COLUMNS, r, strict=True)) for r in batch), into=folded)
            count += len(batch)
        write_rollups(conn, folded)
        conn.execute("INSERT OR REPLACE INTO rollup_meta (name, value) VALUES ('version', ?)",
                     (str(_VERSION),))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return count
