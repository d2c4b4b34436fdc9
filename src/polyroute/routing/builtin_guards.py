"""The guards a router builds from its config, in the order they run.

Each capability that takes part in calls (circuit breakers, rate limits,
budgets, the ledger, the cache, parameter policy) adds its guard here, built
from its own config section and the router's ``RouterContext`` (never the
router itself).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from polyroute.routing.guards import Guard

if TYPE_CHECKING:
    from polyroute.routing.context import RouterContext

__all__ = ["builtin_guards"]


def builtin_guards(ctx: RouterContext, resilience: Sequence[Guard] = ()) -> list[Guard]:
    """Guards for ``ctx``'s config (none are configured by default). ``resilience``:
    the breaker, cooldown, rate-limit and health guards the router's ``Resilience``
    built (they own state the router also reads)."""
    guards: list[Guard] = []
    # OpenTelemetry first: it opens the call's span before a cache hit can answer
    from polyroute.observability import otel_guard

    otel = otel_guard(ctx)
    if otel is not None:
        guards.append(otel)
    if ctx.privacy is not None:  # early: a refused provider is skipped before anything counts
        from polyroute.privacy.guard import PrivacyGuard

        guards.append(PrivacyGuard(ctx.privacy))
    from polyroute.observability.debug import debug_guard

    debug = debug_guard(ctx)  # per-provider debug lines (debug: / POLYROUTE_DEBUG),
    # after privacy: a refused candidate is never logged as sent
    if debug is not None:
        guards.append(debug)
    # cost (issue 5): the response cache answers first, so a hit costs nothing
    from polyroute.cost.wiring import cost_guards

    cache_first, cost_last = cost_guards(ctx)
    guards += cache_first
    # parameter policy (drop/warn/refuse) and context-overflow fallback to larger windows
    from polyroute.catalog.overflow import ContextOverflowGuard
    from polyroute.params import ParamsGuard

    source = ctx.source
    guards += [ParamsGuard(ctx.config.params_policy, ctx.provider,
                           lambda request: source(request).params),
               ContextOverflowGuard(ctx.model_info)]
    # model/provider status (inactive, deprecated) and min_quality (routing/selection.py)
    from polyroute.routing.selection import SelectionGuard

    guards.append(SelectionGuard(ctx.config, ctx.model_info))
    # resilience: circuit breaker, rate limits, health (built by the router; see resilience/)
    guards += resilience
    # budgets (reserve/settle) and the usage ledger run last: nothing is reserved
    # for a candidate that a breaker or rate limit refuses
    guards += cost_last
    # state.on_failure: which of them let a call through when the store is unreachable
    from polyroute.routing.store_failure import apply_store_failure_policy

    scfg = ctx.config.state
    if ctx.state.inline:
        pass  # an in-process store is never unreachable: no wrapper on the hot path
    elif scfg is not None:
        apply_store_failure_policy(guards, scfg.on_failure)
    else:
        from polyroute.config.cost import StoreFailureConfig

        apply_store_failure_policy(guards, StoreFailureConfig())
    return guards
