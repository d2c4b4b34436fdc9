"""``--recommend``: where a cheaper model served an agent as well, from the ledger.

For each agent, models with at least ``min_calls`` answered calls are compared
with the agent's most-used model. A cheaper one is suggested when its success
rate is within ``max_success_drop`` of the current one's and its p95 latency at
most ``max_latency_ratio`` times the current one's. The saving is projected on
the current model's volume over 30 days. Suggestions are explained and never
applied: the operator edits the config.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

from polyroute.analytics.stats import percentile
from polyroute.ledger.reader import open_reader

__all__ = ["Recommendation", "recommend"]


@dataclass
class Recommendation:
    agent: str
    current: str
    suggested: str
    current_cost_per_request: float
    suggested_cost_per_request: float
    current_success_rate: float
    suggested_success_rate: float
    current_p95_ms: float | None
    suggested_p95_ms: float | None
    calls_compared: tuple[int, int]
    monthly_saving_usd: float
    why: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _ModelUse:
    calls: int = 0
    ok: int = 0
    cost: float = 0.0
    priced: int = 0
    first: float = 0.0
    last: float = 0.0

    def __post_init__(self) -> None:
        self.latencies: list[float] = []


def recommend(path: str | os.PathLike[str], *, since: float | None = None,
              min_calls: int = 20, max_success_drop: float = 0.02,
              max_latency_ratio: float = 1.5) -> list[Recommendation]:
    with open_reader(os.fspath(path)) as (conn, ph):
        uses = _uses(conn, ph, since)
    out: list[Recommendation] = []
    for agent, models in sorted(uses.items()):
        eligible = {m: u for m, u in models.items() if u.calls >= min_calls and u.priced}
        if len(eligible) < 2:
            continue
        current_name, current = max(eligible.items(), key=lambda kv: kv[1].calls)
        cur_cost = current.cost / current.priced
        cur_rate = current.ok / current.calls
        cur_p95 = percentile(current.latencies, 0.95)
        best: Recommendation | None = None
        for name, u in eligible.items():
            if name == current_name:
                continue
            cost = u.cost / u.priced
            rate = u.ok / u.calls
            p95 = percentile(u.latencies, 0.95)
            if cost >= cur_cost or rate < cur_rate - max_success_drop:
                continue
            if cur_p95 and p95 and p95 > cur_p95 * max_latency_ratio:
                continue
            span_days = max((current.last - current.first) / 86400.0, 1.0)
            monthly = (cur_cost - cost) * current.calls / span_days * 30.0
            why = (
                f"{name} answered {u.calls} of this agent's calls at {rate:.1%} success "
                f"(vs {cur_rate:.1%}), ${cost:.5f} per request (vs ${cur_cost:.5f})"
                + (f", p95 {p95:.0f} ms (vs {cur_p95:.0f} ms)" if p95 and cur_p95 else "")
                + f"; at the current volume that saves about ${monthly:.2f}/month. "
                f"Not applied: set agents.{agent}.model (or its route) to {name} to switch."
            )
            rec = Recommendation(agent, current_name, name, cur_cost, cost, cur_rate, rate,
                                 cur_p95, p95, (current.calls, u.calls), monthly, why)
            if best is None or rec.monthly_saving_usd > best.monthly_saving_usd:
                best = rec
        if best is not None:
            out.append(best)
    return out


def _uses(conn: Any, ph: str, since: float | None) -> dict[str, dict[str, _ModelUse]]:
    sql = ("SELECT agent, provider, model, status, cost_usd, latency_ms, ts FROM calls "
           "WHERE agent IS NOT NULL AND cache_hit = 0 AND provider != ''")
    args: list[Any] = []
    if since is not None:
        sql += f" AND ts >= {ph}"
        args.append(since)
    uses: dict[str, dict[str, _ModelUse]] = defaultdict(dict)
    for agent, provider, model, status, cost, latency, ts in conn.execute(sql, args):
        name = f"{provider}:{model}"
        u = uses[agent].get(name)
        if u is None:
            u = uses[agent][name] = _ModelUse(first=ts, last=ts)
        u.calls += 1
        u.first, u.last = min(u.first, ts), max(u.last, ts)
        if status != "error":
            u.ok += 1
            if latency is not None:
                u.latencies.append(latency)
            if cost is not None:
                u.cost += cost
                u.priced += 1
    return uses
