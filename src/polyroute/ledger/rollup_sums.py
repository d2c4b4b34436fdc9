"""Exact float sums and packed latency histograms: what a usage rollup row adds up
(``polyroute.ledger.rollup``). Kept apart so the rollup module holds the tables."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["LATENCY_ERROR", "ExactSum", "Latencies", "exact_percentile", "pack", "unpack"]

_BINS_PER_DOUBLING = 8
LATENCY_ERROR = 2 ** (1 / (2 * _BINS_PER_DOUBLING)) - 1
"""Largest relative error of a percentile read from rollups (≈ 4.4 %)."""
_SCALE = 1074  # every finite double is an integer multiple of 2**-1074
_MAX_SHIFT = 2 * 1100  # trailing zeros of any sum of doubles scaled by 2**_SCALE
_BELOW_1MS = -1
_INF_BIN = 1_000_000
_NO_VALUES: list[float] = []  # shared by rollup rows, which hold no exact values: never mutated


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
        # d is a power of two (at most 2**1074): n * (2**_SCALE // d), as one shift
        self.scaled += n << (_SCALE + 1 - d.bit_length())

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
    m, shift = v[0], int(v[1])
    if not 0 <= shift <= _MAX_SHIFT:  # a damaged row must not make a huge integer
        raise ValueError(f"exact sum shifted by {shift}")
    scaled = (int(m, 16) if m.__class__ is str else int(m)) << shift if m else 0
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
        counts = {int(k): int(n) for k, n in v.items()}
        if any(not (-1 <= b < _INF_SLOT or b == _INF_BIN) or n < 0 for b, n in counts.items()):
            raise ValueError("a histogram bin or count out of range")
        return pack(counts)
    slot = int(v[0])
    if not 0 <= slot <= _INF_SLOT:  # a damaged row must not make a huge integer
        raise ValueError(f"histogram starts at slot {slot}")
    return int(v[1], 16) << (slot * _WIDTH)


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

    def total(self) -> int:
        """The packed histogram with the exact values added in (what a rollup row
        stores): no unpacking, which the writer would pay for every row it touches."""
        if not self.values:
            return self.packed
        return self.packed + pack(Counter(_bin(v) for v in self.values))

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
