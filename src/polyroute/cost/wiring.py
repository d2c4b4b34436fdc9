"""Builds the cost-side guards of a router from its config (called by ``builtin_guards``).

Nothing is built — and no call pays for anything — unless the config asks:
``cache:`` for the response cache; ``budgets:``, ``ledger:``, ``pricing:`` or
``alerts:`` for the ``CostGuard``. Without the ``CostGuard``, a ``MaxCostGuard``
still applies a call's own ``max_cost_usd`` (it does nothing for a call without
one). (``state: {backend: sqlite}`` is read by the router itself:
``polyroute.state.state_from_config``.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from polyroute.routing.guards import Guard

if TYPE_CHECKING:
    from polyroute.budgets.guard import CostGuard
    from polyroute.budgets.per_call import MaxCostGuard
    from polyroute.cache.guard import CacheGuard
    from polyroute.routing.context import RouterContext

__all__ = ["cache_url", "cost_guards", "find_guard"]


def cost_guards(ctx: RouterContext) -> tuple[list[Guard], list[Guard]]:
    """``(first, last)``: the cache guard runs first (a hit costs nothing and skips
    everything else); the budget/ledger guard runs after breakers and rate limits,
    so it never reserves for a candidate they refuse. All of them price from the
    router's one ``PriceBook`` (``ctx.prices``)."""
    cfg = ctx.config
    explicit = cfg.model_fields_set
    need_cost = bool(cfg.budgets) or cfg.ledger is not None or bool(
        {"pricing", "alerts"} & explicit)
    want_cache = cfg.cache is not None and cfg.cache.enabled
    book = ctx.prices  # resolves nothing until a price is asked for
    if not need_cost and not want_cache:
        from polyroute.budgets.per_call import MaxCostGuard

        return [], [MaxCostGuard(book)]  # a call's max_cost_usd is never ignored
    from polyroute.budgets.guard import CostGuard
    from polyroute.config.cost import resolve_path

    cost: CostGuard | None = None
    tenant_tag = cfg.cache.tenant_tag if cfg.cache is not None else "tenant"
    if need_cost:
        ledger: Any = None  # a Ledger (SQLite file) or a PostgresLedger, one interface
        if cfg.ledger is not None and cfg.ledger.url is not None:
            from polyroute.ledger.postgres import PostgresLedger

            ledger = PostgresLedger(cfg.ledger.target(), queue_size=cfg.ledger.queue_size,
                                    retention_days=cfg.ledger.retention_days,
                                    sync=cfg.ledger.sync)
        elif cfg.ledger is not None:
            from polyroute.ledger.store import Ledger

            ledger = Ledger(resolve_path(cfg.ledger.path, cfg.source),
                            queue_size=cfg.ledger.queue_size,
                            retention_days=cfg.ledger.retention_days,
                            sync=cfg.ledger.sync)
        cost = CostGuard(
            ctx, book=book, budgets=list(cfg.budgets), state=ctx.state,
            alerts=ctx.alerts, ledger=ledger,
            store_content=bool(cfg.ledger and cfg.ledger.store_content), tenant_tag=tenant_tag,
        )
    first: list[Guard] = []
    if want_cache:
        assert cfg.cache is not None
        from polyroute.cache.guard import CacheGuard
        from polyroute.cache.store import ResponseCache

        store: Any
        directory = resolve_path(cfg.cache.directory, cfg.source)
        if cfg.cache.backend == "redis":  # entries expire by their TTL there
            from polyroute.cache.redis_store import RedisResponseCache

            store = RedisResponseCache(cache_url(cfg), namespace=cfg.cache.namespace,
                                       prefix=cfg.cache.prefix)
        else:
            store = ResponseCache(directory, size_limit_mb=cfg.cache.size_limit_mb)
            if cfg.cache.retention_days is not None:  # retention (docs/privacy.md#retention)
                from polyroute.privacy.retention import purge_cache_on_open

                purge_cache_on_open(store, cfg.cache.retention_days)
        semantic = None
        if cfg.cache.semantic.enabled:  # numpy and the model load only when asked for
            from polyroute.cache.embedders import make_embedder
            from polyroute.cache.semantic import SemanticCache

            semantic = SemanticCache(cfg.cache.semantic,
                                     make_embedder(cfg.cache.semantic.embedder, ctx), directory)
        first.append(CacheGuard(ctx, cfg.cache, store, book=book, cost=cost,
                                semantic=semantic))
    if cost is None:
        from polyroute.budgets.per_call import MaxCostGuard

        return first, [MaxCostGuard(book)]
    return first, [cost]


class _HasGuards(Protocol):
    @property
    def guards(self) -> Sequence[Guard]: ...


def find_guard(router: _HasGuards,
               kind: type[CostGuard] | type[CacheGuard] | type[MaxCostGuard]) -> Guard | None:
    """The router's guard of type ``kind`` (e.g. ``CostGuard``), if it has one."""
    for guard in router.guards:
        if isinstance(guard, kind):
            return guard
    return None


def cache_url(cfg: Any) -> str:
    """``cache.url``, else the state's Redis, else a local server."""
    if cfg.cache.url is not None:
        return str(cfg.cache.url.reveal(what="cache.url"))
    if cfg.state is not None and cfg.state.backend == "redis" and cfg.state.url is not None:
        return str(cfg.state.url.reveal(what="state.url"))
    return "redis://127.0.0.1:6379/0"
