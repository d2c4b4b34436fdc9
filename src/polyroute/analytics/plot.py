"""``polyroute usage --plot FILE.png``: cost per day by provider, and latency percentiles.

Needs matplotlib (``pip install 'polyroute[plot]'``); imported only here.
"""

from __future__ import annotations

import os
from typing import Any

from polyroute.analytics.stats import UsageReport
from polyroute.errors import MissingExtraError

__all__ = ["plot_usage"]


def plot_usage(report: UsageReport, path: str | os.PathLike[str]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingExtraError(
            "usage --plot", package="matplotlib", extra="plot", module=exc.name or "matplotlib"
        ) from None
    days = [d["day"] for d in report.daily]
    providers = sorted({p for d in report.daily for p in d["cost_by_provider"]})
    fig, (ax_cost, ax_lat) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True)
    bottom = [0.0] * len(days)
    for provider in providers:
        values = [d["cost_by_provider"].get(provider, 0.0) for d in report.daily]
        ax_cost.bar(days, values, bottom=bottom, label=provider)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax_cost.set_ylabel("cost (USD)")
    ax_cost.set_title("Cost per day by provider")
    if providers:
        ax_cost.legend(loc="upper left", fontsize="small")
    p50: list[Any] = [d["p50_ms"] for d in report.daily]
    p95: list[Any] = [d["p95_ms"] for d in report.daily]
    ax_lat.plot(days, p50, marker="o", label="p50")
    ax_lat.plot(days, p95, marker="o", label="p95")
    ax_lat.set_ylabel("latency (ms)")
    ax_lat.set_title("Latency percentiles per day (answered, not cached)")
    ax_lat.legend(loc="upper left", fontsize="small")
    ax_lat.tick_params(axis="x", labelrotation=45)
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=100)
    plt.close(fig)
