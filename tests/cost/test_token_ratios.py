"""``TokenRatios``: the ratio a deployment's reservations are scaled by is the largest
of its last 32 counted/estimated ratios (capped), however they come and go."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from polyroute.budgets.per_call import _RATIO_CAP, _RATIO_WINDOW, TokenRatios
from polyroute.routing.plan import Deployment

DEP = Deployment("openai", "gpt-4.1-mini")
pairs = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 400_000)), max_size=120)


@settings(max_examples=200, deadline=None)
@given(pairs)
def test_factor_is_the_largest_recent_ratio(seen: list[tuple[int, int]]) -> None:
    ratios = TokenRatios()
    kept: list[float] = []
    for estimated, counted in seen:
        ratios.observe(DEP, estimated, counted)
        if estimated > 0 and counted > 0:
            kept.append(min(_RATIO_CAP, max(1.0, counted / estimated)))
        recent = kept[-_RATIO_WINDOW:]
        assert ratios.factor(DEP) == (max(recent) if recent else None)


def test_a_large_ratio_is_forgotten_once_32_smaller_ones_follow_it() -> None:
    ratios = TokenRatios()
    ratios.observe(DEP, 100, 300)  # 3.0
    for _ in range(_RATIO_WINDOW - 1):
        ratios.observe(DEP, 100, 120)
    assert ratios.factor(DEP) == 3.0
    ratios.observe(DEP, 100, 110)  # pushes the 3.0 out
    assert ratios.factor(DEP) == 1.2
