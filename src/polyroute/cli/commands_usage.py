"""``polyroute usage``: the ledger's figures by model, provider, agent or day."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING, Any

import click

from polyroute.cli.state import State, config_options, guarded, pass_state

if TYPE_CHECKING:
    from polyroute.analytics.stats import GroupStats, UsageReport
    from polyroute.ledger.rows import Drop

_GROUPS = ("model", "provider", "agent", "day", "route", "tenant")


@click.command()
@click.option("--by", type=click.Choice(_GROUPS), default="model", show_default=True)
@click.option("--since", default="30d", show_default=True, metavar="DURATION",
              help="How far back: 24h, 7d, 30d … or 'all'.")
@click.option("--ledger", "ledger_file", metavar="PATH|URL",
              help="Ledger file or postgresql:// URL (default: the config's ledger).")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
              show_default=True)
@click.option("--plot", metavar="FILE.png", help="Also draw cost per day by provider and "
              "latency percentiles (needs polyroute[plot]).")
@click.option("--recommend", is_flag=True,
              help="Suggest cheaper models that served an agent as well (never applied).")
@click.option("--min-calls", default=20, show_default=True,
              help="--recommend: calls a model needs before it is compared.")
@click.option("--tz", "timezone", default="UTC", show_default=True,
              help="Time zone for days and the month.")
@click.option("--experiment", metavar="NAME", help="Per variant of this experiment: calls, "
              "cost, p50/p95, success, fallback and mean feedback with 95% intervals.")
@config_options
@pass_state
@guarded
def usage(state: State, by: str, since: str, ledger_file: str | None, fmt: str,
          plot: str | None, recommend: bool, min_calls: int, timezone: str,
          experiment: str | None) -> None:
    """Requests, tokens, cost, latency, success, fallback and cache figures from the
    usage ledger, plus budget use, burn rate and a month-end forecast."""
    from polyroute.analytics.stats import usage_stats
    from polyroute.config.cost import parse_duration
    from polyroute.errors import ConfigError

    cfg = state.load_config(required=False)
    budgets = list(cfg.budgets) if cfg is not None else []
    path = ledger_file
    if path is None and cfg is not None and cfg.ledger is not None:
        path = cfg.ledger.target(cfg.source)
    if path is None:
        raise ConfigError("no usage ledger to read",
                          fix="add `ledger: {}` to the config, or pass --ledger PATH")
    try:
        window = None if since == "all" else parse_duration(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    if experiment is not None:
        from polyroute.cli.experiment_usage import show_experiment

        show_experiment(path, experiment, since=None if window is None else since, fmt=fmt,
                        plot=plot)
        return
    try:
        report = usage_stats(path, by=by, since=None if window is None else since,  # type: ignore[arg-type]
                             budgets=budgets,
                             timezone=timezone)
    except FileNotFoundError:
        raise ConfigError(f"no usage ledger at {path} yet",
                          fix="make a call with `ledger:` configured first") from None
    drops = _drops(path, report.since)
    recs = []
    if recommend:
        from polyroute.analytics.recommend import recommend as suggest

        recs = suggest(path, since=report.since, min_calls=min_calls)
    if plot:
        from polyroute.analytics.plot import plot_usage

        plot_usage(report, plot)
    if fmt == "json":
        from polyroute.cli import render

        data = report.as_dict()
        if recommend:
            data["recommendations"] = [r.as_dict() for r in recs]
        data["rows_lost"] = [{"reason": d.reason, "rows": d.rows, "last": d.last}
                             for d in drops]
        render.emit_json(data)
    elif fmt == "csv":
        click.echo(_csv(report), nl=False)
        for line in _drop_lines(drops, report.since):
            click.echo(line, err=True)  # stdout stays plain CSV
    else:
        from polyroute.cli import render

        _tables(report, recs, recommend)
        for line in _drop_lines(drops, report.since):
            render.console().print(f"[bold yellow]{render.safe(line)}[/]", soft_wrap=True)
    if plot and fmt == "table":
        click.echo(f"plot written to {plot}")


def _drops(path: str, since: float | None) -> list[Drop]:
    """Rows the ledger lost in the window (``ledger_drops``), so no loss goes unseen."""
    from polyroute.ledger.reader import read_drops_at

    return read_drops_at(path, since)


def _drop_lines(drops: list[Drop], since: float | None) -> list[str]:
    span = "in all" if since is None else "since " + _iso(since)
    return [f"warning: {d.rows:,} ledger row(s) lost {span} (last at {_iso(d.last)}): "
            f"{d.reason} — these calls are missing from the figures above" for d in drops]


def _row(s: GroupStats, by: str) -> dict[str, Any]:
    return {
        by: s.key, "requests": s.requests, "success_rate": s.success_rate,
        "input_tokens": s.input_tokens,
        "output_tokens": s.output_tokens, "cached_tokens": s.cached_tokens,
        "reasoning_tokens": s.reasoning_tokens, "cost_usd": s.cost_usd,
        "unpriced": s.unpriced, "saved_usd": s.saved_usd, "p50_ms": s.p50_ms,
        "p95_ms": s.p95_ms, "ttft_p50_ms": s.ttft_p50_ms, "tokens_per_s": s.tokens_per_s,
        "fallback_rate": s.fallback_rate, "cache_hit_rate": s.cache_hit_rate,
        "cost_per_success": s.cost_per_success, "tokens_per_usd": s.tokens_per_usd,
    }


def _csv(report: UsageReport) -> str:
    buf = io.StringIO()
    rows = [_row(g, report.by) for g in [*report.groups, report.total]]
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in r.items()})
    return buf.getvalue()


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0%}" if x in (0, 1) else f"{x:.1%}"


def _ms(x: float | None) -> str:
    return "-" if x is None else f"{x:,.0f}"


def _usd(x: float | None) -> str:
    if x is None:
        return "-"
    return f"${x:,.2f}" if x >= 1 else f"${x:.4f}" if x >= 0.0001 else f"${x:.6f}"


def _tables(report: UsageReport, recs: list[Any], recommend: bool) -> None:
    from polyroute.cli import render

    out = render.console()
    cols = [report.by, "requests", "ok", "tokens in/out", "cost", "saved", "p50 ms", "p95 ms",
            "TTFT p50", "tok/s", "fallback", "cache hit", "$/ok req", "tok/$"]
    rows = []
    for s in [*report.groups, report.total]:
        rows.append((
            s.key, f"{s.requests:,}", _pct(s.success_rate),
            f"{s.input_tokens:,}/{s.output_tokens:,}",
            _usd(s.cost_usd) + (f" (+{s.unpriced} unpriced)" if s.unpriced else ""),
            _usd(s.saved_usd) if s.saved_usd else "-", _ms(s.p50_ms), _ms(s.p95_ms),
            _ms(s.ttft_p50_ms), "-" if s.tokens_per_s is None else f"{s.tokens_per_s:,.0f}",
            _pct(s.fallback_rate), _pct(s.cache_hit_rate), _usd(s.cost_per_success),
            "-" if s.tokens_per_usd is None else f"{s.tokens_per_usd:,.0f}",
        ))
    span = "all time" if report.since is None else "since " + _iso(report.since)
    out.print(render.table(f"Usage by {report.by} ({span})", cols, rows))
    if report.budgets:
        out.print(render.table("Budgets (current window)",
                               ["budget", "window", "spent", "limit", "used", "resets"],
                               [(b.budget, b.window, _usd(b.spent_usd), _usd(b.limit_usd),
                                 _pct(b.used), b.resets_at or "-") for b in report.budgets]))
    out.print(f"burn rate {_usd(report.burn_rate_usd_per_day)}/day (last 7 days) · "
              f"month to date {_usd(report.month_to_date_usd)} · "
              f"month-end forecast {_usd(report.forecast_month_usd)}")
    if recommend:
        if not recs:
            out.print("[dim]no recommendation: no agent has a cheaper model with enough calls "
                      "that did as well[/]")
        for r in recs:
            out.print(f"[bold]{render.safe(r.agent)}[/]: try {render.safe(r.suggested)} instead "
                      f"of {render.safe(r.current)} — {render.safe(r.why)}")


def _iso(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")
