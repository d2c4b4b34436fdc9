"""The writer's ``_group`` sums rows per rollup key exactly as one ``agg_of_row`` per
row merged with ``Agg.add`` (the reading ``polyroute usage`` has always had)."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from polyroute.ledger.rollup import _enc, _group, agg_of_row, bucket_of


def _reference(rows: list[tuple[Any, ...]]) -> dict[tuple[Any, ...], Any]:
    out: dict[tuple[Any, ...], Any] = {}
    for r in rows:
        if not isinstance(r[0], int | float) or not math.isfinite(r[0]):
            continue
        a = agg_of_row(r)
        hour = bucket_of(a.ts)
        k = (hour, *(_enc(v) for v in a.key()[:5]), int(a.ok), int(a.hit))
        got = out.get(k)
        if got is None:
            a.ts, a.whole = float(hour), True
            out[k] = a
        else:
            got.add(a)
    return out


_num = st.none() | st.floats(allow_nan=True, allow_infinity=True) | st.integers(0, 10**6)
_row = st.tuples(
    st.sampled_from([0.0, 1.0, 3599.5, 3600.0, 7300.25, math.nan, math.inf, None, "x", 5]),
    st.sampled_from(["a", None]), st.sampled_from(["r", None]), st.just("p"),
    st.sampled_from(["m1", "m2"]), st.sampled_from([None, "t"]),
    st.sampled_from(["ok", "error", "cache_hit"]), st.sampled_from([0, 1, None]),
    st.sampled_from([0, 1, None]),
    *(st.none() | st.integers(0, 10**6) for _ in range(4)),
    _num, _num, _num, _num,
)


def _state(a: Any) -> Any:
    d = dict(vars(a))
    for name in ("cost", "saved", "gen_ms"):
        d[name] = (d[name].scaled, repr(d[name].special))
    for name in ("latency", "ttft"):
        d[name] = ([repr(v) for v in d[name].values], d[name].packed)
    return d


@settings(max_examples=300)
@given(st.lists(_row, max_size=30))
def test_group_sums_like_one_agg_per_row(rows: list[tuple[Any, ...]]) -> None:
    got, want = _group(rows), _reference(rows)
    assert list(got) == list(want)
    for k in want:
        assert _state(got[k]) == _state(want[k])
