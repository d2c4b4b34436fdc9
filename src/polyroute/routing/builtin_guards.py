"""The guards a router builds from its config, in the order they run.

Each capability that takes part in calls (circuit breakers, rate limits,
budgets, the ledger, the cache, parameter policy) adds its guard here, built
from its own config section and sharing the router's ``StateStore``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyroute.routing.guards import Guard

if TYPE_CHECKING:
    from polyroute.router import Router

__all__ = ["builtin_guards"]


def builtin_guards(router: Router) -> list[Guard]:
    """Guards for ``router``'s config (none are configured by default)."""
    guards: list[Guard] = []
    # cost (issue 5): the response cache answers first, so a hit costs nothing
    from polyroute.cost.wiring import cost_guards

    cache_first, cost_last = cost_guards(router)
    guards += cache_first
    # parameter policy (drop/warn/refuse) and context-overflow fallback to larger windows
    from polyroute.catalog.overflow import ContextOverflowGuard
    from polyroute.params import ParamsGuard

    guards += [ParamsGuard(router), ContextOverflowGuard(router)]
    # resilience: circuit breaker, rate limits, health (built by the router; see resilience/)
    guards += router.resilience.guards()
    # budgets (reserve/settle) and the usage ledger run last: nothing is reserved
    # for a candidate that a breaker or rate limit refuses
    guards += cost_last
    return guards
