"""Retry policy per error class, as tenacity callables (``stop``, ``wait``, ``retry``).

Defaults come from ``retry``; ``retry.by_error.<class>`` overrides attempts and
backoff for one class (rate_limit, server, overloaded, timeout, connection).
Waits are full-jitter exponential with a cap, and never shorter than what the
provider asked for (``retry-after``, ``retry-after-ms``, rate-limit reset
headers — the plugins put the ask on ``ProviderError.retry_after``). An ask
longer than the class's ``max_retry_after`` is not slept on: the call falls back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from tenacity import RetryCallState, wait_random_exponential

from polyroute.errors import ProviderError
from polyroute.resilience.classes import error_class

if TYPE_CHECKING:
    from collections.abc import Callable

    from polyroute.config.schema import RetryConfig

__all__ = ["ClassPolicy", "RetryPolicy"]


@dataclass(frozen=True, slots=True)
class ClassPolicy:
    attempts: int
    initial_backoff: float
    max_backoff: float
    max_retry_after: float
    jitter: Callable[[RetryCallState], float]


class RetryPolicy:
    """When to retry one deployment and how long to wait, per error class."""

    def __init__(self, cfg: RetryConfig) -> None:
        self.default = self._policy(cfg.attempts, cfg.initial_backoff, cfg.max_backoff,
                                    cfg.max_retry_after)
        self.by_class: dict[str, ClassPolicy] = {}
        for name, o in cfg.by_error.items():
            self.by_class[name] = self._policy(
                o.attempts or cfg.attempts,
                cfg.initial_backoff if o.initial_backoff is None else o.initial_backoff,
                cfg.max_backoff if o.max_backoff is None else o.max_backoff,
                cfg.max_retry_after if o.max_retry_after is None else o.max_retry_after,
            )
        # tenacity's stop_after_attempt needs one number: the largest of all classes.
        self.attempts = max([self.default.attempts, *(p.attempts for p in self.by_class.values())])

    @staticmethod
    def _policy(attempts: int, initial: float, cap: float, max_ask: float) -> ClassPolicy:
        return ClassPolicy(attempts, initial, cap, max_ask,
                           wait_random_exponential(multiplier=initial, max=cap))

    @property
    def max_retry_after(self) -> float:
        return self.default.max_retry_after

    def for_error(self, exc: BaseException | None) -> ClassPolicy:
        if exc is None or not self.by_class:
            return self.default
        return self.by_class.get(error_class(exc), self.default)

    # --- tenacity callables -------------------------------------------------------

    def stop(self, state: RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome else None
        return state.attempt_number >= self.for_error(exc).attempts

    def wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = float(getattr(exc, "retry_after", None) or 0.0)
        return max(asked, self.for_error(exc).jitter(state))

    def should_retry(self, exc: BaseException, remaining: float | None) -> bool:
        """Retry ``exc``? ``remaining``: seconds left of the call's total timeout."""
        if not isinstance(exc, ProviderError) or not exc.retryable:
            return False
        asked = exc.retry_after
        if asked is not None and asked > self.for_error(exc).max_retry_after:
            return False  # asks for more than we would ever wait: fall back now
        return remaining is None or remaining > (asked or 0.0)
