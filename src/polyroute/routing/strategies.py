"""Strategies order the candidates inside one tier. They are a plugin registry.

A strategy is any callable ``(candidates, request) -> ordered candidates``. It
must not drop candidates (filtering is the planner's job) and must be cheap:
it runs on every routed call.

The built-in ones are ``RankingStrategy`` objects: the router binds each to its
``StrategyContext`` (health, state store, catalog, the ``strategies:`` config),
and ``rank`` says for every candidate its score and why it ranked where it did
(``polyroute route --explain``). Ties keep config order.

| name | orders by |
|---|---|
| ``priority`` | config order |
| ``round_robin`` | rotates the tier on every call (counter in the state store) |
| ``weighted`` | random draw by ``strategies.weights`` (default 1 each) |
| ``least_latency`` | latency EWMA, lowest first (unmeasured first, to measure it) |
| ``lowest_cost`` | estimated cost of this request at the router's ``PriceBook`` prices |
| ``health`` | health score (success rate and latency; 0 with an open circuit) |
| ``lru`` | least recently used first |
| ``least_busy`` | fewest calls in flight |
| ``score`` | weighted cost, latency, quality and capability (``strategies.score``) |
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from polyroute._markers import hookimpl
from polyroute.errors import StateStoreError, StateStoreUnavailable
from polyroute.logs import get_logger

if TYPE_CHECKING:
    from polyroute.config.resilience import StrategiesConfig
    from polyroute.cost.pricing import Prices
    from polyroute.plugins.manager import PluginRegistry
    from polyroute.resilience.health import HealthTracker
    from polyroute.routing.plan import Deployment
    from polyroute.state import StateStore
    from polyroute.types import ChatRequest, ModelInfo

__all__ = [
    "BUILTIN",
    "Ranked",
    "RankingStrategy",
    "Strategy",
    "StrategyContext",
    "bind_strategies",
    "priority",
    "rank",
    "with_builtin_strategies",
]

logger = get_logger("routing.strategies")
_QUIET = 30.0
_last_warned: dict[str, float] = {}  # strategy name -> when its outage was last logged

Strategy = Callable[["Sequence[Deployment]", "ChatRequest"], "list[Deployment]"]


class Ranked(NamedTuple):
    dep: Deployment
    score: float | None
    why: str


@dataclass(slots=True)
class StrategyContext:
    """What strategies may read: health, shared state, catalog, prices, config."""

    store: StateStore
    cfg: StrategiesConfig
    info: Callable[[Deployment], ModelInfo | None]
    health: HealthTracker | None = None
    clock: Callable[[], float] = time.time
    prices: Callable[[Deployment], Prices] | None = None
    """The router's ``PriceBook.prices`` (``None``: the catalog's prices only)."""
    on_failure: str = "open"
    """``state.on_failure.strategy``: with the store unreachable, ``open`` ranks in
    config order (with a warning), ``closed`` fails the call."""


class RankingStrategy:
    """Base of the built-in strategies: ``rank`` scores, ``__call__`` orders."""

    name = "priority"

    def __init__(self, ctx: StrategyContext | None = None) -> None:
        self.ctx = ctx

    def bind(self, ctx: StrategyContext) -> RankingStrategy:
        return type(self)(ctx)

    def __call__(self, candidates: Sequence[Deployment], request: ChatRequest) -> list[Deployment]:
        if self.ctx is None:  # unbound (used outside a router): config order
            return list(candidates)
        try:
            return [r.dep for r in self.rank(candidates, request)]
        except StateStoreUnavailable as exc:
            self._store_down(exc)
            return list(candidates)

    def _store_down(self, exc: StateStoreUnavailable) -> None:
        """``state.on_failure.strategy``: re-raise (``closed``) or warn, at most once per
        ``_QUIET`` seconds per strategy, and let the caller use config order."""
        assert self.ctx is not None
        if self.ctx.on_failure != "open":
            raise exc
        now = time.monotonic()
        if now - _last_warned.get(self.name, -_QUIET) >= _QUIET:
            _last_warned[self.name] = now
            logger.warning(
                "%s strategy: state store unreachable, candidates tried in config order "
                "(state.on_failure.strategy: open) until the store answers. %s", self.name, exc)

    def rank(
        self, candidates: Sequence[Deployment], request: ChatRequest, *, commit: bool = True
    ) -> list[Ranked]:
        """Candidates in order with score and reason. ``commit=False``: a dry run that
        moves no counter (explain)."""
        return [Ranked(d, None, "config order") for d in candidates]

    @staticmethod
    def _sorted(rows: list[Ranked], key: Callable[[Ranked], Any]) -> list[Ranked]:
        return sorted(rows, key=key)  # stable: ties keep config order


class Priority(RankingStrategy):
    name = "priority"
    one_by_one = True
    """Config order needs no look at the rest of a tier: a lazy plan hands candidates
    out as they pass (``routing/plan.py``)."""

    def rank(self, candidates: Sequence[Deployment], request: ChatRequest, *,
             commit: bool = True) -> list[Ranked]:
        return [Ranked(d, None, f"config order #{i}") for i, d in enumerate(candidates, 1)]


class RoundRobin(RankingStrategy):
    name = "round_robin"

    def rank(self, candidates: Sequence[Deployment], request: ChatRequest, *,
             commit: bool = True) -> list[Ranked]:
        assert self.ctx is not None
        key = "rr:" + ",".join(d.key for d in candidates)
        n = _turn(self.ctx.store, key, commit)
        k = (n - 1) % len(candidates)
        order = [*candidates[k:], *candidates[:k]]
        return [Ranked(d, None, f"round robin turn {n}: position {i}")
                for i, d in enumerate(order, 1)]


def _turn(store: StateStore, key: str, commit: bool) -> int:
    """The round-robin counter. It only orders candidates, so a corrupt value (another
    process, a hand edit) restarts the rotation with a warning instead of failing the
    call; a store that cannot answer still raises (``delete`` fails as ``incr`` did)."""
    try:
        n = store.incr(key, 1) if commit else store.get(key)
    except StateStoreUnavailable:
        raise  # an outage, not a bad value: state.on_failure.strategy decides
    except StateStoreError:
        n = math.nan
    if n is None:
        return 1
    if (type(n) is float or type(n) is int) and math.isfinite(n):
        return int(n)
    logger.warning("state store %r: round-robin key '%s' holds a value polyroute did not "
                   "write; the rotation starts over. To reset it now: %s",
                   store, key, store.fix(key))
    if not commit:
        return 1
    store.delete(key)
    return int(store.incr(key, 1))


class Weighted(RankingStrategy):
    name = "weighted"

    def rank(self, candidates: Sequence[Deployment], request: ChatRequest, *,
             commit: bool = True) -> list[Ranked]:
        assert self.ctx is not None
        weights = [max(self.ctx.cfg.weights.get(d.key, 1.0), 1e-9) for d in candidates]
        total = sum(weights)
        # Efraimidis-Spirakis: sorting by u^(1/w) draws without replacement by weight.
        draws = [random.random() ** (1.0 / w) for w in weights]
        rows = [Ranked(d, round(w / total, 4), f"weight {w:g} of {total:g} ({w / total:.0%}), "
                                                "random draw")
                for d, w in zip(candidates, weights, strict=True)]
        order = sorted(range(len(rows)), key=lambda i: -draws[i])
        return [rows[i] for i in order]


class LeastLatency(RankingStrategy):
    name = "least_latency"

    def rank(self, candidates: Sequence[Deployment], request: ChatRequest, *,
             commit: bool = True) -> list[Ranked]:
        h = self.ctx.health if self.ctx else None
        rows = []
        for d in candidates:
            lat = h.latency(d.key) if h else None
            rows.append(Ranked(d, None if lat is None else round(lat, 1),
                               "not measured yet (tried first to measure it)" if lat is None
                               else f"latency EWMA {lat:.0f} ms"))
        return self._sorted(rows, lambda r: -1.0 if r.score is None else r.score)


def estimate_cost(ctx: StrategyContext, dep: Deployment, prompt: int, output: int) -> float | None:
    """``prompt`` fresh input and ``output`` tokens at ``dep``'s prices, the ones the
    answer's ``cost_usd`` and the budgets use; ``None`` when no price is known."""
    if ctx.prices is not None:
        p = ctx.prices(dep)
        cin, cout = p.input, p.output
    else:
        info = ctx.info(dep)
        cin, cout = (None, None) if info is None else (info.prices.input, info.prices.output)
    if cin is None or cout is None:
        return None
    return (prompt * cin + output * cout) / 1_000_000


def _need(ctx: StrategyContext, request: ChatRequest) -> tuple[int, int]:
    from polyroute.tokens import prompt_tokens

    out = request.params.max_tokens or ctx.cfg.expected_output_tokens
    return prompt_tokens(request), out


class LowestCost(RankingStrategy):
    name = "lowest_cost"

    def rank(self, candidates: Sequence[Deployment], request: ChatRequest, *,
             commit: bool = True) -> list[Ranked]:
        assert self.ctx is not None
        prompt, out = _need(self.ctx, request)
        rows = []
        for d in candidates:
            cost = estimate_cost(self.ctx, d, prompt, out)
            rows.append(Ranked(d, cost, "no known price (ranked last)" if cost is None
                               else f"~${cost:.6f} for ~{prompt:,} in + {out:,} out tokens"))
        return self._sorted(rows, lambda r: float("inf") if r.score is None else r.score)


class Health(RankingStrategy):
    name = "health"

    def rank(self, candidates: Sequence[Deployment], request: ChatRequest, *,
             commit: bool = True) -> list[Ranked]:
        assert self.ctx is not None
        h, ref = self.ctx.health, self.ctx.cfg.latency_reference_ms
        rows = []
        for d in candidates:
            if h is None:
                rows.append(Ranked(d, None, "health tracking is off"))
                continue
            ok, err = h.recent(d.key)
            s = h.score(d.key, ref)
            rows.append(Ranked(d, s, f"health {s:.2f} ({int(ok)} ok / {int(err)} errors recently)"))
        return self._sorted(rows, lambda r: -(r.score if r.score is not None else 1.0))


class LRU(RankingStrategy):
    name = "lru"

    def rank(self, candidates: Sequence[Deployment], request: ChatRequest, *,
             commit: bool = True) -> list[Ranked]:
        assert self.ctx is not None
        h, now = self.ctx.health, self.ctx.clock()
        rows = []
        for d in candidates:
            last = h.last_used(d.key) if h else None
            rows.append(Ranked(d, last, "never used" if last is None
                               else f"last used {now - last:.1f}s ago"))
        return self._sorted(rows, lambda r: -1.0 if r.score is None else r.score)


class LeastBusy(RankingStrategy):
    name = "least_busy"

    def rank(self, candidates: Sequence[Deployment], request: ChatRequest, *,
             commit: bool = True) -> list[Ranked]:
        h = self.ctx.health if self.ctx else None
        rows = [Ranked(d, float(n), f"{n} in flight")
                for d in candidates for n in [h.in_flight(d.key) if h else 0]]
        return self._sorted(rows, lambda r: r.score or 0.0)


class Score(RankingStrategy):
    """Weighted multi-criteria score: each criterion normalised to 0..1 (1 best) across
    the tier, unknown values count as 0.5, weights from ``strategies.score``."""

    name = "score"

    def rank(self, candidates: Sequence[Deployment], request: ChatRequest, *,
             commit: bool = True) -> list[Ranked]:
        assert self.ctx is not None
        ctx, w = self.ctx, self.ctx.cfg.score
        prompt, out = _need(ctx, request)
        costs = [estimate_cost(ctx, d, prompt, out) for d in candidates]
        lats = [ctx.health.latency(d.key) if ctx.health else None for d in candidates]
        infos = [ctx.info(d) for d in candidates]
        caps = [len(m.capabilities) if m and m.capabilities else None for m in infos]
        quality = [ctx.cfg.quality.get(d.key, ctx.cfg.quality.get(d.model)) for d in candidates]
        weights = (w.cost, w.latency, w.quality, w.capability)
        total_w = sum(weights) or 1.0
        rows = []
        for i, d in enumerate(candidates):
            parts = (_lower_better(costs, i), _lower_better(lats, i),
                     0.5 if (q := quality[i]) is None else float(q),
                     _higher_better(caps, i))
            s = sum(p * x for p, x in zip(parts, weights, strict=True)) / total_w
            why = ", ".join(f"{n} {p:.2f}*{x:g}" for n, p, x in
                            zip(("cost", "latency", "quality", "capability"), parts, weights,
                                strict=True))
            rows.append(Ranked(d, round(s, 4), f"score {s:.3f} = {why}"))
        return self._sorted(rows, lambda r: -(r.score or 0.0))


def _lower_better(values: Sequence[float | int | None], i: int) -> float:
    v = values[i]
    known = [x for x in values if x is not None]
    if v is None or not known:
        return 0.5
    hi, lo = max(known), min(known)
    return 1.0 if hi == lo else 1.0 - (v - lo) / (hi - lo)


def _higher_better(values: Sequence[float | int | None], i: int) -> float:
    v = values[i]
    known = [x for x in values if x is not None]
    if v is None or not known:
        return 0.5
    hi, lo = max(known), min(known)
    return 1.0 if hi == lo else (v - lo) / (hi - lo)


BUILTIN: tuple[type[RankingStrategy], ...] = (
    Priority, RoundRobin, Weighted, LeastLatency, LowestCost, Health, LRU, LeastBusy, Score,
)

priority = Priority()
"""Config order: the first listed candidate is tried first."""


def bind_strategies(registry: dict[str, Any], ctx: StrategyContext) -> dict[str, Any]:
    """The registry's strategies, the ranking ones bound to ``ctx`` (one router's)."""
    return {n: s.bind(ctx) if isinstance(s, RankingStrategy) else s for n, s in registry.items()}


def rank(strategy: Any, candidates: Sequence[Deployment], request: ChatRequest) -> list[Ranked]:
    """``strategy``'s explained order without side effects (any strategy: a plain
    callable's order is shown with its position only)."""
    if isinstance(strategy, RankingStrategy) and strategy.ctx is not None:
        try:
            return strategy.rank(candidates, request, commit=False)
        except StateStoreUnavailable as exc:
            strategy._store_down(exc)
            return [Ranked(d, None, f"config order #{i} (state store unreachable)")
                    for i, d in enumerate(candidates, 1)]
    return [Ranked(d, None, f"position {i} by the strategy")
            for i, d in enumerate(strategy(list(candidates), request), 1)]


@hookimpl
def polyroute_register_strategies(register: Callable[[str, Strategy], None]) -> None:
    for cls in BUILTIN:
        register(cls.name, cls())


BUILTIN_PLUGIN_NAME = "polyroute.strategies"
_builtin_lock = threading.Lock()


def with_builtin_strategies(registry: PluginRegistry) -> PluginRegistry:
    """``registry`` with the built-in strategies registered (once; idempotent).

    The plugin seam sits below routing and does not know these: whoever builds a
    registry for routing (the router, the CLI, ``polyroute.testing``) hands them in
    here. They are registered as the plugin ``polyroute.strategies`` and, as when
    the seam registered them first, a built-in name wins over a plugin's.
    """
    import sys

    with _builtin_lock:
        if not registry.pm.has_plugin(BUILTIN_PLUGIN_NAME):
            registry.pm.register(sys.modules[__name__], name=BUILTIN_PLUGIN_NAME)
            polyroute_register_strategies(register=registry.strategies.__setitem__)
    return registry
