"""``CostGuard``: prices, budgets, the usage ledger and degradation alerts, in one guard.

Per attempt, on the request path:

- ``before_attempt`` reserves the attempt's worst-case cost (estimated prompt
  tokens + max output tokens, at the deployment's prices) in every budget that
  applies, with the ``StateStore``'s atomic ``reserve`` — so concurrent calls in
  threads, tasks or processes cannot overspend. A budget that cannot take it
  acts: ``block`` skips the candidate with ``BudgetExceeded`` (raised when no
  candidate is left), ``downgrade`` lets only the route's cheapest candidates
  through, ``warn`` alerts and counts the spend anyway.
- ``after_attempt`` settles each reservation to the actual cost (a failed
  attempt releases it), fires threshold alerts once per window, and notes the
  attempt for the ledger; ``cancel_attempt`` releases.
- ``after_call``/``call_failed`` hand one call row and its attempt rows to the
  ledger's queue (no disk IO here) and set ``response.cost_usd``.
- ``attempt_interrupted`` (the caller left mid-attempt: cancelled, a timeout around
  ``achat``, ``KeyboardInterrupt``, a stream closed early) keeps each hold as
  spent; ``call_ended`` then writes the call's row (status ``cancelled`` or
  ``interrupted``) when neither ``after_call`` nor ``call_failed`` did.

The guard holds nothing per call except a small record keyed by the request's
messages and routing hints (shared by the copy the router makes to merge an
agent's parameters), dropped when the call ends.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from polyroute.analytics.alerts import Alert, Alerts, DegradationMonitor
from polyroute.budgets.budget import Budget
from polyroute.budgets.call_record import CallRecord, how_it_left, record_key
from polyroute.budgets.ledger_rows import LedgerRows
from polyroute.budgets.per_call import TokenRatios, WorstCase, check_max_cost, worst_case
from polyroute.budgets.windows import Window
from polyroute.config.cost import BudgetConfig
from polyroute.cost.book import PriceBook
from polyroute.cost.pricing import Prices
from polyroute.errors import BudgetExceeded, StateStoreError
from polyroute.logs import get_logger
from polyroute.routing.guards import CandidateSkipped, Guard
from polyroute.routing.plan import Deployment
from polyroute.state.base import StateStore
from polyroute.types import Attempt, ChatRequest, ChatResponse, Usage

if TYPE_CHECKING:
    from polyroute.ledger.postgres import PostgresLedger
    from polyroute.ledger.store import Ledger
    from polyroute.routing.context import RouterContext

__all__ = ["Budget", "CostGuard"]  # Budget: its old home

logger = get_logger("budgets")
# Beside each window's counter (spent + held for calls in flight, what ``reserve``
# checks), what settled calls actually cost: a refusal can say spent vs reserved.
_SPENT = ":spent"
# A window's counter (spent + held) is never negative; below this (float drift is
# far smaller) it was tampered with, and would let the budget overspend by as much.
_FLOOR = -1e-6


@dataclass(slots=True)
class _Ticket:
    prices: Prices
    holds: list[tuple[Budget, str, float, float | None]]  # budget, key, amount, ttl
    worst: WorstCase | None = None


class CostGuard(LedgerRows, Guard):
    name = "cost"

    def __init__(
        self,
        ctx: RouterContext,
        *,
        book: PriceBook,
        budgets: list[BudgetConfig],
        state: StateStore,
        alerts: Alerts,
        ledger: Ledger | PostgresLedger | None = None,
        store_content: bool = False,
        tenant_tag: str = "tenant",
        clock: Any = time.time,
    ) -> None:
        self.config = ctx.config
        self._source = ctx.source
        self._privacy = ctx.privacy
        self.book = book
        self.state = state
        self.alerts = alerts
        self.ledger = ledger
        self.store_content = store_content
        self.tenant_tag = tenant_tag
        self.budgets = [Budget(b, clock) for b in budgets]
        self.block_unknown = book.pricing.unknown == "block"
        cfg = ctx.config
        acfg = getattr(cfg, "alerts", None)
        self.monitor = (DegradationMonitor(acfg, alerts) if acfg is not None and (
            acfg.error_rate is not None or acfg.latency_p95_ms is not None) else None)
        self._track = ledger is not None
        self._calls: dict[tuple[int, int], CallRecord] = {}
        self._agent_tags = {name: dict(a.tags) for name, a in cfg.agents.items()}
        self._routes: dict[tuple[str | None, ...], str | None] = {}
        self._cheapest: dict[int, frozenset[Deployment]] = {}
        self.ratios = TokenRatios(state)

    # --- planning -----------------------------------------------------------------

    def close(self) -> None:
        if self.ledger is not None:
            self.ledger.close()

    def skip_reason(self, dep: Deployment, request: ChatRequest) -> str | None:
        if self.block_unknown and not self.book.prices(dep).known:
            return "no known price (pricing.unknown: block)"
        return None

    # --- one attempt ----------------------------------------------------------------

    def before_attempt(self, dep: Deployment, request: ChatRequest) -> Any:
        prices = self.book.prices(dep)
        if not prices.known:
            if self.block_unknown:
                raise CandidateSkipped("no known price (pricing.unknown: block)")
            self.book.warn_unknown(dep)
        routing = request.routing
        agent_tags = self._agent_tags.get(routing.agent or "", {})
        budgets = [b for b in self.budgets if b.applies(dep, request, agent_tags)]
        if not budgets and routing.max_cost_usd is None:
            return _Ticket(prices, [])
        ratio = self.ratios.factor(dep)
        # per-call limits judge the call as estimated; reservations in shared windows
        # take the prompt at its ceiling until the deployment's count is known
        check = worst_case(self.book, dep, request, ratio)
        check_max_cost(self.book, dep, request, check)
        worst = check
        if ratio is None and any(b.clock is not None for b in budgets):
            worst = worst_case(self.book, dep, request, ratio, reserve=True)
        est = worst.usd
        holds: list[tuple[Budget, str, float, float | None]] = []
        try:
            for b in budgets:
                if b.clock is None:  # per request
                    if check.usd > b.cfg.usd:
                        self._over(b, dep, request, check, None, 0.0, 0.0)
                    continue
                window = b.window()
                key, ttl = b.key(window), b.ttl(window)
                if self.state.reserve_leased(key, est, b.cfg.usd, ttl, floor=_FLOOR):
                    holds.append((b, key, est, ttl))
                    continue
                total = self.state.number(key)
                spent = min(total, self.state.number(key + _SPENT))
                self._over(b, dep, request, worst, window, spent, max(0.0, total - spent))
                self.state.incr(key, est, ttl)  # warn / downgrade: counted all the same
                holds.append((b, key, est, ttl))
        except BaseException:  # a skip, or a store error: nothing stays held
            self._release(holds)
            raise
        return _Ticket(prices, holds, worst)

    def _over(self, b: Budget, dep: Deployment, request: ChatRequest, worst: WorstCase,
              window: Window | None, spent: float, held: float) -> None:
        """Budget ``b`` cannot take this attempt: act on it (raise to skip the candidate)."""
        cfg = b.cfg
        resets = window.resets_at if window is not None else None
        action = cfg.on_exceed
        if action == "downgrade" and dep in self._cheapest_of(request):
            return
        if window is None:
            what = f"worst case ${worst.usd:.4f} per call"
            error = BudgetExceeded(b.label, 0.0, cfg.usd, needed_usd=worst.usd,
                                   basis=worst.describe(), fix=worst.fix(), per_request=True)
        else:
            what = (f"spent ${spent:.4f} + reserved ${held:.4f} + this call's worst case "
                    f"${worst.usd:.4f}")
            fix = ("wait for the window to reset or raise the budget's usd" if resets
                   else "raise the budget's usd (per: total never resets)")
            if not worst.capped:
                fix = f"{worst.fix()}, or {fix}"
            error = BudgetExceeded(b.label, spent, cfg.usd, resets, reserved_usd=held,
                                   needed_usd=worst.usd, basis=worst.describe(), fix=fix)
        self._alert_once(b, window, "budget_exceeded", 1.0, spent + held,
                         f"budget {b.label} reached ({what} of ${cfg.usd:g}); on_exceed: {action}")
        if action == "warn":
            return
        reason = f"budget {b.label} reached ({what} of ${cfg.usd:g})"
        if action == "downgrade":
            raise CandidateSkipped(reason + ": downgrading to the route's cheapest model")
        raise CandidateSkipped(reason, error)

    def verdict(self, dep: Deployment, request: ChatRequest) -> str:
        """What ``before_attempt`` would do with ``dep`` now (``route --explain``):
        reads the budgets' counters, reserves nothing."""
        known = self.book.prices(dep).known
        if not known and self.block_unknown:
            return "refused: no known price (pricing.unknown: block)"
        agent_tags = self._agent_tags.get(request.routing.agent or "", {})
        budgets = [b for b in self.budgets if b.applies(dep, request, agent_tags)]
        ratio = self.ratios.factor(dep)
        check = worst_case(self.book, dep, request, ratio)
        try:
            check_max_cost(self.book, dep, request, check)
        except CandidateSkipped as skip:
            return f"refused: {skip.error or skip.reason}"
        if not known:
            return "let through uncounted: no known price (pricing.unknown: warn)"
        if not budgets:
            return ("no budget" if request.routing.max_cost_usd is None
                    else f"ok: worst case ${check.usd:.4f} within max_cost")
        worst = check
        if ratio is None and any(b.clock is not None for b in budgets):
            worst = worst_case(self.book, dep, request, ratio, reserve=True)
        notes = []
        for b in budgets:
            if b.clock is None:
                fits = check.usd <= b.cfg.usd
                where = f"{b.label}: worst case ${check.usd:.4f} of ${b.cfg.usd:g} per call"
            else:
                key = b.key(b.window())
                total = self.state.number(key)
                spent = min(total, self.state.number(key + _SPENT))
                held = max(0.0, total - spent)
                fits = total + worst.usd <= b.cfg.usd
                where = (f"{b.label}: would reserve ${worst.usd:.4f} (${spent:.4f} spent, "
                         f"${held:.4f} reserved, of ${b.cfg.usd:g})")
            if fits:
                notes.append(f"ok, {where}")
            else:
                act = {"block": "refused", "downgrade": "downgrade",
                       "warn": "warn, let through"}[b.cfg.on_exceed]
                notes.append(f"{act}, {where}; {worst.fix()}")
        return f"{'; '.join(notes)} — {worst.describe()}"

    def cancel_attempt(self, dep: Deployment, request: ChatRequest, ticket: Any) -> None:
        if isinstance(ticket, _Ticket):
            self._release(ticket.holds)

    def _release(self, holds: list[tuple[Budget, str, float, float | None]]) -> None:
        for _, key, amount, ttl in holds:
            if amount:
                self.state.incr_later(key, -amount, ttl)

    def after_attempt(self, dep: Deployment, request: ChatRequest, ticket: Any,
                      attempt: Attempt, response: ChatResponse | None) -> None:
        # a failed attempt comes with a response only when its partial answer is kept
        # (a stream cut and continued): what it streamed is spent
        usage = response.usage if response is not None else None
        cost: float | None = None
        if isinstance(ticket, _Ticket):
            cost = ticket.prices.cost(usage) if usage is not None else 0.0
            if usage is not None and ticket.worst is not None:
                self.ratios.observe(dep, ticket.worst.prompt_estimate, usage.input_tokens)
            if cost is not None and not (math.isfinite(cost) and cost >= 0):
                # never let a bad usage report lower a budget: the hold stays spent
                logger.error(
                    "%s reported usage costing %r; budgets keep this attempt's "
                    "reservation as spent instead (check the provider's usage parsing)",
                    dep.key, cost)
                cost = None
                settle_to: float | None = None
            else:
                settle_to = cost or 0.0
            self._settle(ticket.holds, settle_to)
        if self.monitor is not None:
            self.monitor.record(dep.key, attempt.ok, attempt.latency_ms)
        if self._track:
            self._note(request, attempt, usage, cost, response)

    def _settle(self, holds: list[tuple[Budget, str, float, float | None]],
                settle_to: float | None) -> None:
        """Each hold becomes ``settle_to`` spent (``None``: the hold itself is spent)."""
        for b, key, amount, ttl in holds:
            actual = amount if settle_to is None else settle_to
            try:
                # nobody waits for these (a networked store sends them together);
                # alerts compare the spent total with thresholds once it is written
                if actual != amount:
                    self.state.incr_later(key, actual - amount, ttl)
                if actual > 0:
                    self.state.incr_later(key + _SPENT, actual, ttl, then=functools.partial(
                        self._thresholds, b) if b.cfg.alerts else None)
            except StateStoreError as exc:
                # The answer is paid for: return it. The corrupt counter stays as it
                # is, so the budget's next reservation fails closed on it.
                logger.error("budget %s could not settle this attempt: %s", b.label, exc)

    def _note(self, request: ChatRequest, attempt: Attempt, usage: Usage | None,
              cost: float | None, response: ChatResponse | None) -> CallRecord:
        """The attempt, in the call's record for the ledger."""
        key = record_key(request)
        rec = self._calls.get(key)
        if rec is None or rec.request is not request:
            rec = self._calls[key] = CallRecord(request)
            if len(self._calls) > 4096:
                self._sweep()
        rec.attempts.append((attempt, usage, cost))
        if response is not None and attempt.ok and (request.stream or response.latency_ms):
            rec.stream = True  # a stream's after_attempt comes with its latency set
        return rec

    def attempt_interrupted(self, dep: Deployment, request: ChatRequest, ticket: Any,
                            attempt: Attempt, response: ChatResponse | None) -> None:
        """The caller left mid-attempt. The provider may well bill it (a request it
        received, and generation that goes on after a disconnect) and no final usage
        came back, so every budget keeps this attempt's worst-case hold as spent, as a
        card network keeps an authorisation nobody voided: the budget may over-count
        but never under-counts, and nothing stays reserved past this point."""
        if isinstance(ticket, _Ticket):
            self._settle(ticket.holds, None)
        if self._track:
            usage = response.usage if response is not None and attempt.ok else None
            rec = self._note(request, attempt, usage, None, response)
            rec.stream = rec.stream or response is not None  # only a stream passes one

    # --- alerts ---------------------------------------------------------------------

    def _thresholds(self, b: Budget, before: float, after: float) -> None:
        limit = b.cfg.usd
        for t in b.cfg.alerts:
            mark = t * limit
            if before < mark <= after:
                window = b.window() if b.clock is not None else None
                self._alert_once(
                    b, window, "budget_threshold", t, after,
                    f"budget {b.label} at {after / limit:.0%} (${after:.4f} of ${limit:g})",
                )

    def _alert_once(self, b: Budget, window: Window | None, kind: str, mark: float,
                    spent: float, message: str) -> None:
        if window is not None:
            key = f"alert:{b.key(window)}:{kind}:{mark:g}"
            if self.state.incr(key, 1.0, b.ttl(window)) != 1.0:
                return  # another call (or process) already sent it this window
        severity = "critical" if mark >= 1.0 else "warning"
        self.alerts.emit(Alert(kind, b.label, message, severity, {  # type: ignore[arg-type]
            "scope": b.cfg.scope, "per": b.cfg.per, "limit_usd": b.cfg.usd,
            "spent_usd": spent, "threshold": mark,
            "resets_at": window.resets_at if window is not None else None,
        }))

    # --- the call -----------------------------------------------------------------------

    def after_call(self, request: ChatRequest, response: ChatResponse) -> None:
        rec = self._calls.pop(record_key(request), None) if self._track else None
        if rec is not None and rec.request is not request:
            rec = None
        # the router priced the answer from the same book (a continued stream: each
        # segment at its own deployment's price); a guard driven on its own prices here
        cost = response.cost_usd
        if cost is None and rec is not None:
            cost = rec.priced(response)
        if cost is None:
            dep = Deployment(response.provider, response.model)
            cost = self.book.prices(dep).cost(response.usage)
        if cost is not None and not (math.isfinite(cost) and cost >= 0):
            cost = None  # logged when its attempt settled
        if cost is not None:
            response.cost_usd = cost
        if self.ledger is None:
            return
        self._write(request, rec, response=response, cost=cost)

    def call_failed(self, request: ChatRequest, error: Exception) -> None:
        if self.ledger is None:
            return
        rec = self._calls.pop(record_key(request), None)
        if rec is not None and rec.request is not request:
            rec = None
        self._write(request, rec, error=error)

    def call_ended(self, request: ChatRequest) -> None:
        """A call with attempts that neither answered nor failed through the router
        (cancelled, interrupted, a stream closed early, an error no guard saw) still
        gets its ledger row, with the attempts made so far."""
        if not self._calls:
            return
        key = record_key(request)
        rec = self._calls.get(key)
        # ``request`` is the caller's; the record holds the router's copy of it
        if rec is None or rec.request.messages is not request.messages:
            return
        del self._calls[key]
        if self.ledger is not None:
            status, name = how_it_left()
            self._write(rec.request, rec, status=status, err_name=name)

    def record_hit(self, request: ChatRequest, response: ChatResponse, saved: float | None
                   ) -> None:
        """A cache hit: one ledger row at cost 0, with the cost it saved."""
        if self.ledger is not None:
            self._write(request, None, response=response, cost=0.0, saved=saved, hit=True)

    # --- helpers ----------------------------------------------------------------------

    def _cheapest_of(self, request: ChatRequest) -> frozenset[Deployment]:
        """The route's candidates with the lowest known price (per million in + out)."""
        try:
            src = self._source(request)
        except Exception:
            return frozenset()
        found = self._cheapest.get(id(src))
        if found is None:
            priced = []
            for tier in src.tiers:
                for d in tier:
                    p = self.book.prices(d)
                    if p.known:
                        priced.append(((p.input or 0.0) + (p.output or 0.0), d))
            low = min((x for x, _ in priced), default=None)
            found = frozenset(d for x, d in priced if x == low)
            self._cheapest[id(src)] = found
        return found

    def _sweep(self) -> None:
        """Drop records no ``call_ended`` came for (a guard driven outside the router)."""
        cutoff = time.time() - 3600.0
        for key, rec in list(self._calls.items()):
            if rec.started < cutoff:
                self._calls.pop(key, None)

