"""Bookkeeping for one routed call: attempts, outcomes, deadline, retry policy.

The router's steps (``routing.steps``) use it whether they are driven sync or
async, so both record the same attempts, decide retries the same way and raise
the same errors.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from types import GeneratorType
from typing import Any

from tenacity import RetryCallState

from polyroute.errors import (
    AuthenticationError,
    CandidateOutcome,
    ConfigError,
    ContentPolicyError,
    InvalidResponseError,
    NoRouteError,
    PolyrouteError,
    ProviderError,
    ProviderTimeoutError,
    StateStoreError,
)
from polyroute.guard_base import AWAIT
from polyroute.logs import get_logger
from polyroute.resilience.classes import error_class
from polyroute.resilience.failover import FailoverStats
from polyroute.resilience.retry import RetryPolicy
from polyroute.routing.guards import CandidateSkipped, Guard
from polyroute.routing.plan import LATENCY_SKIP, Deployment, Plan
from polyroute.routing.steps import ASYNC_BEFORE_ATTEMPT, BeforeAttempt, Steps
from polyroute.secrets import redact
from polyroute.trusted_models import trusted
from polyroute.types import Attempt, ChatRequest, ChatResponse

logger = get_logger("routing.call")

# RetryPolicy is re-exported from resilience.retry
__all__ = ["Call", "DeferredSkip", "RetryPolicy", "as_provider_error"]

logger = get_logger("router")


class DeferredSkip(CandidateSkipped):
    """A skip that yields (a rate-limit cooldown): ignored for the call's last candidate,
    so a lone deployment keeps its retries."""


def as_provider_error(exc: Exception, dep: Deployment) -> ProviderError:
    """Any failure inside one attempt, as a classified ``ProviderError``."""
    if isinstance(exc, ProviderError):
        return exc.with_context(dep.provider, dep.model)
    if isinstance(exc, ConfigError):  # e.g. the key's env var vanished
        return AuthenticationError(str(exc), provider=dep.provider, model=dep.model)
    return InvalidResponseError(
        f"provider plugin failed on this response ({type(exc).__name__}: {redact(str(exc))})",
        provider=dep.provider, model=dep.model,
    )


class Call:
    """State of one routed call across all its attempts and fallbacks."""

    __slots__ = (
        "_errors",
        "_last_dep",
        "_last_exc",
        "_last_failed",
        "_outcomes",
        "_policy_chain",
        "_skip_errors",
        "attempts",
        "deadline",
        "guards",
        "notify",
        "plan",
        "request",
        "started",
        "stats",
    )

    def __init__(
        self, plan: Plan, request: ChatRequest, total_timeout: float | None,
        notify: Callable[[Attempt, ChatRequest], Any] | None, guards: Sequence[Guard] = (),
        stats: FailoverStats | None = None,
    ) -> None:
        self.plan = plan
        self.request = request
        self.started = time.perf_counter()
        self.deadline = None if total_timeout is None else self.started + total_timeout
        self.attempts: list[Attempt] = []
        self._outcomes: list[CandidateOutcome] = []  # the plan's skips come first
        self.notify = notify
        self.guards = guards
        self.stats = stats
        self._last_failed: ProviderError | None = None
        self._policy_chain = False
        self._last_dep: Deployment | None = None
        self._last_exc: ProviderError | None = None
        self._skip_errors: list[PolyrouteError] = []
        # every failed attempt's, for release (made at the first: most calls have none)
        self._errors: list[ProviderError] | None = None

    @property
    def outcomes(self) -> list[CandidateOutcome]:
        """Why each candidate was skipped or failed: the plan's skips, then this call's.
        Reading it evaluates the rest of a lazy plan (only a failed call needs it)."""
        return [*self.plan.skipped, *self._outcomes]

    def remaining(self) -> float | None:
        if self.deadline is None:
            return None
        return self.deadline - time.perf_counter()

    def check_deadline(self, dep: Deployment) -> float | None:
        remaining = self.remaining()
        if remaining is not None and remaining <= 0:
            raise ProviderTimeoutError(
                "total timeout reached before this attempt", provider=dep.provider, model=dep.model
            )
        return remaining

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0

    # --- attempts ------------------------------------------------------------

    def candidates(self) -> Iterator[Deployment]:
        """The plan's candidates in order — or, once a provider refused on content-policy
        grounds, the content-policy chain instead of the rest."""
        for dep in self.plan.iter_candidates():
            if self._policy_chain:
                break
            yield dep
        if self._policy_chain:
            yield from self.plan.policy_chain

    def follow_policy_chain(self, exc: ProviderError) -> bool:
        """After a refusal that may not fall back: switch to the content-policy chain,
        if the plan has one and it is not already in use."""
        if self._policy_chain or not self.plan.policy_chain:
            return False
        if not isinstance(exc, ContentPolicyError):
            return False
        self._policy_chain = True
        return True

    def begin(self, dep: Deployment) -> float:
        """Mark the previous candidate's failure as a fallback to ``dep``."""
        if self._last_failed is not None and self.attempts:
            self.attempts[-1].action = "fell_back"
            self._last_failed.action = f"fell back to {dep.key}"
            if self.stats is not None and self._last_dep is not None:
                self.stats.record(self._last_dep.key, dep.key, error_class(self._last_failed))
            self._last_failed = None
        return time.perf_counter()

    # --- guards around one attempt ---------------------------------------------

    def before_attempt(self, dep: Deployment) -> Steps[list[Any] | None]:
        """Tickets from every guard; a ``CandidateSkipped`` (or any error, such as a
        state store that cannot answer) cancels the earlier ones."""
        if not self.guards:
            return None
        tickets: list[Any] = []
        try:
            for guard in self.guards:
                try:
                    if ASYNC_BEFORE_ATTEMPT[type(guard)]:  # it may wait
                        got = guard.admit(dep, self.request)
                        if got is AWAIT:  # awaited by the driver: an effect
                            got = yield BeforeAttempt(guard, dep, self.request)
                        elif isinstance(got, GeneratorType):  # its waiting, as our steps
                            got = yield from got
                        tickets.append(got)
                    else:
                        tickets.append(guard.before_attempt(dep, self.request))
                except DeferredSkip:
                    if not self._last_resort(dep):
                        raise
                    tickets.append(None)
        except BaseException:
            self._cancel(dep, tickets)
            raise
        return tickets

    def _last_resort(self, dep: Deployment) -> bool:
        """No candidate comes after ``dep`` in this call."""
        order = self.plan.policy_chain if self._policy_chain else self.plan.candidates
        return dep not in order or order.index(dep) == len(order) - 1

    def _cancel(self, dep: Deployment, tickets: list[Any]) -> None:
        for guard, ticket in zip(self.guards, tickets, strict=False):
            guard.cancel_attempt(dep, self.request, ticket)

    def after_attempt(
        self, dep: Deployment, tickets: list[Any] | None, attempt: Attempt,
        response: ChatResponse | None,
    ) -> None:
        if tickets is None:
            return
        failed: StateStoreError | None = None
        for guard, ticket in zip(self.guards, tickets, strict=True):
            try:
                guard.after_attempt(dep, self.request, ticket, attempt, response)
            except StateStoreError as exc:  # every guard still settles its own part
                failed = failed or exc
        if failed is not None:
            if not attempt.ok:
                raise failed
            # The answer is paid for: return it. The bad value stays where it is, so the
            # guard that reads it before the next attempt fails closed on it.
            logger.error("%s answered, but recording it in the state store failed: %s",
                         dep, failed)

    def interrupted(
        self, dep: Deployment, tickets: list[Any] | None, exc: BaseException, *,
        t0: float | None = None, attempt: Attempt | None = None,
        response: ChatResponse | None = None,
    ) -> None:
        """The caller left mid-attempt (``exc``: ``CancelledError``, ``KeyboardInterrupt``,
        ``GeneratorExit``): record the attempt unless ``attempt`` is one already
        recorded (a stream's), and settle every guard's ticket. Never raises, so
        ``exc`` propagates as it is (a ``CancelledError`` must stay one)."""
        if attempt is None:
            attempt = Attempt(
                provider=dep.provider, model=dep.model, ok=False,
                latency_ms=(time.perf_counter() - (t0 or self.started)) * 1000.0,
                error=type(exc).__name__, message=f"the caller left ({type(exc).__name__})",
                action="gave_up",
            )
            self.attempts.append(attempt)
            try:
                if self.notify is not None:
                    self.notify(attempt, self.request)
            except Exception:
                logger.exception("an attempt observer failed on an interrupted attempt")
        if tickets is None:
            return
        for guard, ticket in zip(self.guards, tickets, strict=True):
            try:
                guard.attempt_interrupted(dep, self.request, ticket, attempt, response)
            except Exception:  # the next guard still settles; the interruption goes on
                logger.exception("guard %s failed in attempt_interrupted", guard.name)

    def skipped(self, dep: Deployment, skip: CandidateSkipped) -> None:
        """A guard refused ``dep`` — before any attempt, or between retries (a circuit
        that opened on the last failure): then that failure is what falls back."""
        last = self.attempts[-1] if self.attempts else None
        if (last is not None and not last.ok and last.action == "retried"
                and (last.provider, last.model) == (dep.provider, dep.model)
                and self._last_exc is not None):
            last.action = "gave_up"
            self._last_exc.action = f"gave up: {skip.reason}"
            self._last_failed, self._last_dep = self._last_exc, dep
            self._outcomes.append(CandidateOutcome(
                dep.provider, dep.model, f"{type(self._last_exc).__name__}: "
                f"{self._last_exc.reason}; then {skip.reason}", skipped=False,
                error=self._last_exc))
            return
        self._outcomes.append(CandidateOutcome(dep.provider, dep.model, skip.reason, skipped=True))
        if skip.error is not None:
            self._skip_errors.append(skip.error)

    # --- attempts ----------------------------------------------------------------

    def succeeded(self, dep: Deployment, t0: float) -> Attempt:
        attempt = trusted(  # the router's own values, of the fields' types
            Attempt, provider=dep.provider, model=dep.model, ok=True,
            latency_ms=(time.perf_counter() - t0) * 1000.0,
        )
        self._record(attempt)
        return attempt

    def failed(self, dep: Deployment, t0: float, exc: ProviderError) -> Attempt:
        exc.reason = redact(exc.reason)
        exc.args = (exc.reason,)
        exc.action = "gave up"
        self._last_exc = exc
        if self._errors is None:
            self._errors = [exc]
        else:
            self._errors.append(exc)
        attempt = Attempt(
            provider=dep.provider, model=dep.model, ok=False,
            latency_ms=(time.perf_counter() - t0) * 1000.0,
            error=type(exc).__name__, status=exc.status, message=exc.reason, action="gave_up",
            retry_after=exc.retry_after,
        )
        self._record(attempt)
        return attempt

    def retrying(self, state: RetryCallState) -> None:
        """tenacity ``before_sleep``: the last attempt will be retried."""
        if self.attempts:
            self.attempts[-1].action = "retried"
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ProviderError):
            wait = state.next_action.sleep if state.next_action else 0.0
            exc.action = f"retried after {wait:.2f}s"

    def candidate_failed(self, dep: Deployment, exc: ProviderError) -> None:
        self._outcomes.append(
            CandidateOutcome(dep.provider, dep.model, f"{type(exc).__name__}: {exc.reason}",
                             skipped=False, error=exc)
        )
        self._last_failed = exc
        self._last_dep = dep

    def gave_up(self) -> None:
        """No candidate is left after the last failure (for failover statistics)."""
        if self.stats is not None and self._last_failed is not None and self._last_dep:
            self.stats.record(self._last_dep.key, None, error_class(self._last_failed))
            self._last_failed = None

    def release(self) -> None:
        """The call is over: let go of its failures. Each failure's traceback holds the
        frames it passed through, and those frames hold the failure (and this call)
        again, so without this every failed attempt (~60-130 objects) would wait in a
        reference cycle for the cyclic GC. The finished frames lose their locals; the
        tracebacks still print in full (as ``unittest`` does with stored failures)."""
        if self._errors is None:
            return  # nothing failed (most calls): no traceback holds this call
        for exc in self._errors:
            traceback.clear_frames(exc.__traceback__)
        self._errors = None
        self._outcomes.clear()
        self._skip_errors.clear()
        self._last_exc = self._last_failed = None

    def _record(self, attempt: Attempt) -> None:
        self.attempts.append(attempt)
        if self.notify is not None:
            self.notify(attempt, self.request)

    def no_route(self) -> PolyrouteError:
        """The error for a call nothing answered. If guards skipped every candidate
        with an error of their own (``BudgetExceeded``), that error."""
        tried = sum(1 for o in self.outcomes if not o.skipped)
        if self._skip_errors and not tried:
            return self._skip_errors[0]
        if not self.plan.candidates and not tried:
            msg = f"no usable candidate for {self.plan.description}"
            limit = self.request.routing.max_latency_ms
            if limit is not None and any(LATENCY_SKIP in o.reason for o in self.outcomes):
                msg += (f": none fits max_latency_ms={limit:g} — raise it or drop it, or add "
                        f"a faster deployment (`polyroute health` shows each one's p95)")
        else:
            msg = f"every candidate for {self.plan.description} failed ({tried} tried)"
        err = NoRouteError(msg, self.outcomes)
        return err
