"""What the router shows without making a call (a mixin of ``Router``): the plan and
the strategy's ranking of a request, failover and health snapshots, usage figures.
``polyroute route --explain``, ``polyroute health`` and the dashboard read these."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from polyroute.routing.plan import Deployment, Plan
from polyroute.routing.strategies import Ranked, rank
from polyroute.types import ChatRequest

if TYPE_CHECKING:
    from polyroute.config.schema import PolyrouteConfig
    from polyroute.guard_base import Guard
    from polyroute.resilience.core import Resilience
    from polyroute.resilience.health import HealthTracker
    from polyroute.routing.plan import Planner

__all__ = ["ViewsMixin"]


class ViewsMixin:
    if TYPE_CHECKING:
        config: PolyrouteConfig
        planner: Planner
        strategies: dict[str, Any]
        resilience: Resilience
        health: HealthTracker | None
        guards: list[Guard]

    def plan(self, request: ChatRequest) -> Plan:
        """What would be tried for ``request``, in order, and what is skipped and why."""
        return self.planner.plan(request)

    def rankings(self, request: ChatRequest, plan: Plan | None = None) -> list[list[Ranked]]:
        """Per usable tier of ``plan`` (default: plan ``request`` now), each candidate's
        score and why the strategy ranked it there — a dry run that moves no counter, so
        it explains the order ``plan`` got. ``polyroute route --explain`` shows it."""
        plan = plan or self.planner.plan(request)
        strategy = self.strategies[plan.strategy]
        usable = {d for tier in plan.tiers for d in tier}
        source = [[d for d in tier if d in usable] for tier in self.planner.source(request).tiers]
        return [rank(strategy, tier, request) for tier in source if tier]

    def failover_stats(self) -> dict[str, Any]:
        """Failovers by ``from -> to`` and by reason (error class), from ``state``."""
        return self.resilience.failover.snapshot()

    def health_snapshot(self, *, history: bool = False) -> dict[str, Any]:
        """Health of every configured or used deployment, JSON-ready."""
        if self.health is None:
            return {}
        keys = [d.key for d in self.planner_deployments()]
        snap = self.health.snapshot(keys, history=history)
        for key, row in snap.items():
            provider, _, model = key.partition("/")
            row["rate_limit"] = self.resilience.limiter.status(Deployment(provider, model)) or None
        return snap

    def planner_deployments(self) -> list[Deployment]:
        """Every deployment the config names (routes, agents, default)."""
        from polyroute.resilience.health import named_deployments

        return named_deployments(self.config)

    def usage_stats(self, **filters: Any) -> Any:
        """Figures from the usage ledger (see ``polyroute.analytics.usage_stats``)."""
        from polyroute.analytics import usage_stats

        return usage_stats(self, **filters)
