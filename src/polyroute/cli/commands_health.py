"""``polyroute health``.

``health`` shows each configured deployment's health: success and error rate,
latency p50/p95, time to first token, uptime, circuit state, rate limits and
the health score, plus failover counts. Health is passive (from traffic); in a
one-off CLI process there is no traffic, so ``--probe`` sends every deployment
its cheapest request first (with a shared ``StateStore`` backend the table also
shows what other processes saw). The fault matrix is ``make reliability``
(``examples/reliability_report.py``).
"""

from __future__ import annotations

import click

from polyroute.cli.state import (
    State,
    config_options,
    guarded,
    json_option,
    pass_state,
)


def _fmt(v: object, unit: str = "") -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and unit == "%":
        return f"{v:.0%}"
    return f"{v}{unit}"


@click.command()
@click.option("--probe", is_flag=True, help="Probe every deployment once first (network).")
@click.option("--history", is_flag=True, help="Include per-window history (with --json).")
@config_options
@json_option
@pass_state
@guarded
def health(state: State, probe: bool, history: bool, as_json: bool) -> None:
    """Health of every configured deployment, and failover counts."""
    from polyroute.cli import render
    from polyroute.resilience.health import HealthProber

    with state.router(required=True) as router:
        if probe:
            HealthProber(router.context, 0).probe_once()
        snap = router.health_snapshot(history=history)
        failovers = router.failover_stats()
    if as_json:
        render.emit_json({"deployments": snap, "failovers": failovers})
        return
    rows = []
    for key, h in snap.items():
        circuit = h.get("circuit") or {}
        limits = h.get("rate_limit") or {}
        rows.append((
            key, h["requests"], _fmt(h["success_rate"], "%"), _fmt(h["latency_p50_ms"], " ms"),
            _fmt(h["latency_p95_ms"], " ms"), _fmt(h["ttft_ms"], " ms"), _fmt(h["uptime"], "%"),
            circuit.get("state", "-"),
            ", ".join(f"{k} {v}" for k, v in limits.items() if k in ("rpm", "tpm") and v) or "-",
            f"{h['score']:.2f}",
        ))
    out = render.console()
    out.print(render.table("health", ["deployment", "requests", "success", "p50", "p95", "ttft",
                                      "uptime", "circuit", "limits", "score"], rows))
    if failovers["total"]:
        out.print(render.table("failovers", ["from -> to", "count"],
                               list(failovers["by_route"].items())))
        out.print(render.table(None, ["reason", "count"], list(failovers["by_reason"].items())))
    else:
        out.print("failovers: none recorded")

