"""``polyroute usage --experiment NAME``: each variant's figures, with confidence intervals.

Per variant, from the ledger rows the experiment tagged (``calls.experiment``):
calls, cost (total and per call), p50/p95 latency of answered calls, success rate
(with its 95 % Wilson interval), fallback rate, and the mean feedback score with
its 95 % Student-t interval (each call's latest score, ``router.feedback``), plus
how often each label was given. An interval needs two scored calls; with fewer
it is ``None`` (shown as "-"), never a made-up number.
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from polyroute.analytics.stats import percentile
from polyroute.config.cost import parse_duration
from polyroute.ledger.feedback import order_column
from polyroute.ledger.reader import open_reader

__all__ = ["ExperimentReport", "VariantStats", "experiment_report", "mean_interval",
           "plot_experiment", "wilson_interval"]

# two-sided 95 % Student-t critical values by degrees of freedom (1..30); beyond, 1.96
_T95 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
        2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
        2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
_Z95 = 1.959964


def mean_interval(values: list[float]) -> tuple[float | None, float | None, float | None]:
    """``(mean, low, high)``: the 95 % Student-t interval of the mean (``None`` below 2)."""
    n = len(values)
    if n == 0:
        return None, None, None
    mean = math.fsum(values) / n
    if n < 2:
        return mean, None, None
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1)
    t = _T95[n - 2] if n - 1 <= len(_T95) else _Z95
    half = t * math.sqrt(var / n)
    return mean, max(0.0, mean - half), min(1.0, mean + half)  # scores live in [0, 1]


def wilson_interval(successes: int, n: int) -> tuple[float | None, float | None]:
    """The 95 % Wilson score interval of a proportion (sound at 0 % and 100 % too)."""
    if n == 0:
        return None, None
    p, z2 = successes / n, _Z95 * _Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = _Z95 * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    low, high = max(0.0, centre - half), min(1.0, centre + half)
    # exact at the edges (the formula's float rounding would give 0.9999999...)
    return (0.0 if successes == 0 else low), (1.0 if successes == n else high)


@dataclass
class VariantStats:
    variant: str
    calls: int = 0
    succeeded: int = 0
    cost_usd: float = 0.0
    cost_per_call: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    success_rate: float | None = None
    success_low: float | None = None
    success_high: float | None = None
    fallback_rate: float | None = None
    scored: int = 0
    feedback_mean: float | None = None
    feedback_low: float | None = None
    feedback_high: float | None = None
    labels: dict[str, int] = field(default_factory=dict)


@dataclass
class ExperimentReport:
    experiment: str
    since: float | None
    until: float
    variants: list[VariantStats]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def experiment_report(path: str | os.PathLike[str], experiment: str, *,
                      since: str | float | None = "30d", now: float | None = None
                      ) -> ExperimentReport:
    """The figures of ``experiment`` from the ledger at ``path`` (a file or a PostgreSQL
    URL; see the module doc)."""
    now = time.time() if now is None else now
    start = None
    if since is not None:
        start = float(since) if isinstance(since, int | float) else now - (
            parse_duration(since) or 0.0)
    with open_reader(os.fspath(path)) as (conn, ph):
        sql = ("SELECT c.id, c.variant, c.status, c.cost_usd, c.latency_ms, c.fallback, "
               f"c.cache_hit FROM calls c WHERE c.experiment = {ph} AND c.ts <= {ph}")
        args: list[Any] = [experiment, now]
        if start is not None:
            sql += f" AND c.ts >= {ph}"
            args.append(start)
        calls = conn.execute(sql, args).fetchall()
        ids = {row[0] for row in calls}
        scores: dict[str, float] = {}
        labels: dict[str, list[str]] = {}
        has_feedback = ph == "?" or conn.execute(
            "SELECT to_regclass('feedback')").fetchone()[0] is not None
        # oldest first, so each call keeps its latest score
        for call_id, score, label in conn.execute(
                "SELECT f.call_id, f.score, f.label FROM feedback f JOIN calls c "
                f"ON c.id = f.call_id WHERE c.experiment = {ph} "
                f"ORDER BY f.ts, f.{order_column(ph)}",
                (experiment,)) if has_feedback else ():
            if call_id not in ids:
                continue
            if score is not None:
                scores[call_id] = float(score)
            if label:
                labels.setdefault(call_id, []).append(label)
    by_variant: dict[str, list[tuple[Any, ...]]] = {}
    for row in calls:
        by_variant.setdefault(str(row[1]), []).append(row)
    variants = [_variant(v, rows, scores, labels) for v, rows in sorted(by_variant.items())]
    return ExperimentReport(experiment, start, now, variants)


def _variant(name: str, rows: list[tuple[Any, ...]], scores: dict[str, float],
             labels: dict[str, list[str]]) -> VariantStats:
    s = VariantStats(name, calls=len(rows))
    lat: list[float] = []
    fallbacks = 0
    for _id, _variant_name, status, cost, latency, fallback, hit in rows:
        s.cost_usd += cost or 0.0  # a failed call's paid attempts count too
        if status in ("error", "cancelled", "interrupted"):
            continue
        s.succeeded += 1
        fallbacks += bool(fallback)
        if latency is not None and not hit:
            lat.append(float(latency))
    s.p50_ms, s.p95_ms = percentile(lat, 0.5), percentile(lat, 0.95)
    if s.calls:
        s.cost_per_call = s.cost_usd / s.calls
        s.success_rate = s.succeeded / s.calls
        s.success_low, s.success_high = wilson_interval(s.succeeded, s.calls)
    if s.succeeded:
        s.fallback_rate = fallbacks / s.succeeded
    mine = [scores[r[0]] for r in rows if r[0] in scores]
    s.scored = len(mine)
    s.feedback_mean, s.feedback_low, s.feedback_high = mean_interval(mine)
    s.labels = dict(Counter(label for r in rows for label in labels.get(r[0], [])))
    return s


def plot_experiment(report: ExperimentReport, path: str | os.PathLike[str]) -> None:
    """Mean feedback (with its 95 % interval), cost per call and p95 latency per variant."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        from polyroute.errors import MissingExtraError

        raise MissingExtraError("usage --experiment --plot", package="matplotlib",
                                extra="plot", module=exc.name or "matplotlib") from None
    names = [v.variant for v in report.variants]
    x = list(range(len(names)))
    fig, (ax_fb, ax_cost, ax_lat) = plt.subplots(1, 3, figsize=(11, 3.8))
    means = [v.feedback_mean or 0.0 for v in report.variants]
    err = [[(v.feedback_mean or 0.0) - (v.feedback_low if v.feedback_low is not None
                                         else v.feedback_mean or 0.0) for v in report.variants],
           [(v.feedback_high if v.feedback_high is not None else v.feedback_mean or 0.0)
            - (v.feedback_mean or 0.0) for v in report.variants]]
    ax_fb.bar(x, means, yerr=err, capsize=6, color="#4c72b0")
    ax_fb.set_ylim(0, 1)
    ax_fb.set_title("mean feedback (95 % CI)")
    ax_cost.bar(x, [v.cost_per_call or 0.0 for v in report.variants], color="#dd8452")
    ax_cost.set_title("cost per call (USD)")
    ax_lat.bar(x, [v.p95_ms or 0.0 for v in report.variants], color="#55a868")
    ax_lat.set_title("p95 latency (ms)")
    for ax in (ax_fb, ax_cost, ax_lat):
        ax.set_xticks(x, names)
    fig.suptitle(f"experiment {report.experiment}: "
                 + ", ".join(f"{v.variant} n={v.calls}" for v in report.variants))
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=100)
    plt.close(fig)
