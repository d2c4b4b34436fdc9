"""``polyroute usage --experiment NAME``: the variant table (and ``--plot``)."""

from __future__ import annotations

import csv
import io

import click

from polyroute.analytics.experiments import VariantStats, experiment_report

__all__ = ["show_experiment"]


def _num(x: float | None, fmt: str) -> str:
    return "-" if x is None else format(x, fmt)


def _interval(mean: float | None, low: float | None, high: float | None, fmt: str) -> str:
    if mean is None:
        return "-"
    if low is None or high is None:
        return f"{mean:{fmt}} (CI needs 2+)"
    return f"{mean:{fmt}} [{low:{fmt}}, {high:{fmt}}]"


def _row(v: VariantStats) -> tuple[str, ...]:
    labels = ", ".join(f"{k} {n}" for k, n in sorted(v.labels.items())) or "-"
    return (v.variant, f"{v.calls:,}", f"${v.cost_usd:.4f}", _num(v.cost_per_call, ".6f"),
            _num(v.p50_ms, ",.0f"), _num(v.p95_ms, ",.0f"),
            _interval(v.success_rate, v.success_low, v.success_high, ".0%"),
            _num(v.fallback_rate, ".0%"), f"{v.scored:,}",
            _interval(v.feedback_mean, v.feedback_low, v.feedback_high, ".2f"), labels)


_COLS = ["variant", "calls", "cost", "$/call", "p50 ms", "p95 ms", "success [95% CI]",
         "fallback", "scored", "feedback [95% CI]", "labels"]


def show_experiment(path: str, name: str, *, since: str | None, fmt: str,
                    plot: str | None) -> None:
    from polyroute.errors import ConfigError

    try:
        report = experiment_report(path, name, since=since)
    except FileNotFoundError:
        raise ConfigError(f"no usage ledger at {path} yet",
                          fix="make a call with `ledger:` configured first") from None
    if not report.variants:
        raise ConfigError(f"no call in the ledger took part in experiment {name!r}"
                          + (f" since {since}" if since else ""), field="--experiment",
                          fix="check the name under experiments:, or widen --since")
    if plot:
        from polyroute.analytics.experiments import plot_experiment

        plot_experiment(report, plot)
    if fmt == "json":
        from polyroute.cli import render

        render.emit_json(report.as_dict())
    elif fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["variant", "calls", "cost_usd", "p50_ms", "p95_ms", "success_rate",
                         "success_low", "success_high", "fallback_rate", "scored",
                         "feedback_mean", "feedback_low", "feedback_high"])
        for v in report.variants:
            writer.writerow(["" if x is None else x for x in (
                v.variant, v.calls, v.cost_usd, v.p50_ms, v.p95_ms, v.success_rate,
                v.success_low, v.success_high, v.fallback_rate, v.scored, v.feedback_mean,
                v.feedback_low, v.feedback_high)])
        click.echo(buf.getvalue(), nl=False)
    else:
        from polyroute.cli import render

        render.console().print(render.table(f"Experiment {name} by variant", _COLS,
                                            [_row(v) for v in report.variants]))
    if plot and fmt == "table":
        click.echo(f"plot written to {plot}")
