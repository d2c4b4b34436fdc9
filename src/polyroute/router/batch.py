"""Many requests through one router: bounded concurrency, priority, a cost check first.

``Router.batch(requests)`` / ``await Router.abatch(requests)`` answer every request
and return, in order, a ``ChatResponse`` or the typed error that request ended in:
one row's failure (a provider error, a refusal, a bug) never stops the others.

- **Concurrency** is bounded (``concurrency``, default 8): threads for ``batch``,
  tasks under a semaphore for ``abatch``.
- **Priority**: each request gets the routing tag ``priority`` (default ``low``)
  unless it has one, so the rate limiter (``rate_limits``) serves interactive
  traffic waiting on the same deployment first.
- **Cost check**: ``estimate_batch`` prices each request's worst case (its prompt
  plus ``max_tokens`` or the model's output limit) at its first candidate before
  anything is sent; with ``max_cost_usd`` a batch whose estimate exceeds it raises
  ``BudgetExceeded`` and sends nothing. While it runs, once the spend reaches
  ``max_cost_usd`` the requests not yet started are left unsent (``NotSent``).

The JSONL files, resuming after a crash and the progress bar are in
``polyroute.router.batch_file`` and ``polyroute batch``.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from polyroute.budgets.per_call import worst_case
from polyroute.errors import BudgetExceeded, ConfigError, PolyrouteError
from polyroute.types import ChatRequest, ChatResponse

if TYPE_CHECKING:
    from polyroute.router.core import Router

__all__ = ["BatchEstimate", "NotSent", "arun_batch", "estimate_batch", "run_batch"]

Outcome = ChatResponse | Exception
# called after each request ends: (index, its outcome)
OnResult = Callable[[int, Outcome], None]


class NotSent(PolyrouteError):
    """A request the batch did not send (its spend limit was reached first)."""


@dataclass(frozen=True)
class BatchEstimate:
    """The worst-case cost of a batch, before it starts."""

    requests: int
    usd: float
    """Sum of the priced requests' worst cases."""
    unpriced: int
    """Requests whose first candidate has no known price (not in ``usd``)."""
    unroutable: int
    """Requests with no usable candidate now (they will end in an error)."""

    def describe(self) -> str:
        text = f"worst case ${self.usd:,.4f} for {self.requests:,} requests"
        if self.unpriced:
            text += f" (+{self.unpriced:,} with no known price)"
        if self.unroutable:
            text += f"; {self.unroutable:,} have no usable candidate now"
        return text


def estimate_batch(router: Router, requests: Sequence[ChatRequest]) -> BatchEstimate:
    """Price each request's worst case at the first candidate its plan would try."""
    usd, unpriced, unroutable = 0.0, 0, 0
    for request in requests:
        try:
            request = router._assigned(request)
            plan = router.plan(request)
        except PolyrouteError:
            unroutable += 1
            continue
        if not plan.candidates:
            unroutable += 1
            continue
        # the agent's or route's max_tokens bounds the output, as it will in the call
        request = request.model_copy(update={"params": request.params.merged_over(plan.params)})
        worst = worst_case(router.price_book, plan.candidates[0], request)
        if worst.prices.known and math.isfinite(worst.usd):
            usd += worst.usd
        else:
            unpriced += 1
    return BatchEstimate(len(requests), usd, unpriced, unroutable)


def _check_options(concurrency: int, max_cost_usd: float | None) -> None:
    if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(f"concurrency must be a whole number >= 1, got {concurrency!r}",
                          field="concurrency", fix="pass e.g. concurrency=8")
    if max_cost_usd is not None and not (
            isinstance(max_cost_usd, int | float) and math.isfinite(max_cost_usd)
            and max_cost_usd >= 0):
        raise ConfigError(f"max_cost_usd must be a finite number >= 0, got {max_cost_usd!r}",
                          field="max_cost_usd", fix="pass a dollar amount, e.g. 5.0, or None")


def check_estimate(router: Router, requests: Sequence[ChatRequest],
                   max_cost_usd: float | None) -> BatchEstimate | None:
    """``BudgetExceeded`` if the batch's worst case is over ``max_cost_usd``."""
    if max_cost_usd is None:
        return None
    est = estimate_batch(router, requests)
    if est.usd > max_cost_usd:
        raise BudgetExceeded(
            "batch max_cost_usd", 0.0, max_cost_usd, needed_usd=est.usd,
            basis=est.describe(), per_request=False,
            fix="nothing was sent: raise max_cost_usd, set max_tokens on the requests, "
                "or split the batch")
    return est


def with_priority(request: ChatRequest, priority: str | int) -> ChatRequest:
    if "priority" in request.routing.tags:
        return request
    tags = {**request.routing.tags, "priority": str(priority)}
    return request.model_copy(update={"routing": request.routing.model_copy(update={"tags": tags})})


class _Spend:
    """Spend so far, and whether a new request may start under ``limit``."""

    def __init__(self, limit: float | None) -> None:
        self.limit, self.usd = limit, 0.0
        self._lock = threading.Lock()

    def add(self, outcome: Outcome) -> None:
        if isinstance(outcome, ChatResponse) and outcome.cost_usd is not None:
            with self._lock:
                self.usd += outcome.cost_usd

    def exhausted(self) -> bool:
        return self.limit is not None and self.usd >= self.limit

    def not_sent(self) -> NotSent:
        return NotSent(f"not sent: the batch spent ${self.usd:,.4f} of max_cost_usd "
                       f"${self.limit:,.4f}")


def run_batch(router: Router, requests: Sequence[ChatRequest], *, concurrency: int = 8,
              priority: str | int = "low", max_cost_usd: float | None = None,
              on_result: OnResult | None = None) -> list[Outcome]:
    """Answer ``requests`` on up to ``concurrency`` threads; see the module doc."""
    _check_options(concurrency, max_cost_usd)
    check_estimate(router, requests, max_cost_usd)
    spend = _Spend(max_cost_usd)
    results: list[Outcome | None] = [None] * len(requests)

    def one(i: int) -> None:
        outcome: Outcome
        if spend.exhausted():
            outcome = spend.not_sent()
        else:
            try:
                outcome = router.chat(with_priority(requests[i], priority))
            except Exception as exc:  # any failure is this row's, never the batch's
                outcome = exc
        spend.add(outcome)
        results[i] = outcome
        if on_result is not None:
            on_result(i, outcome)

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="polyroute-batch") as ex:
        for future in [ex.submit(one, i) for i in range(len(requests))]:
            future.result()  # re-raises only a bug in on_result
    return [r for r in results if r is not None]


async def arun_batch(router: Router, requests: Sequence[ChatRequest], *,
                     concurrency: int = 8, priority: str | int = "low",
                     max_cost_usd: float | None = None,
                     on_result: OnResult | None = None) -> list[Outcome]:
    """Async ``run_batch``: up to ``concurrency`` calls in flight on this event loop."""
    _check_options(concurrency, max_cost_usd)
    check_estimate(router, requests, max_cost_usd)
    spend = _Spend(max_cost_usd)
    gate = asyncio.Semaphore(concurrency)
    results: list[Outcome | None] = [None] * len(requests)

    async def one(i: int) -> None:
        outcome: Outcome
        async with gate:
            if spend.exhausted():
                outcome = spend.not_sent()
            else:
                try:
                    outcome = await router.achat(with_priority(requests[i], priority))
                except Exception as exc:
                    outcome = exc
        spend.add(outcome)
        results[i] = outcome
        if on_result is not None:
            on_result(i, outcome)

    await asyncio.gather(*(one(i) for i in range(len(requests))))
    return [r for r in results if r is not None]
