"""``state.on_failure``: per guard, fail closed or open when the store is unreachable.

A guard that meets ``StateStoreUnavailable`` (Redis down, a timeout, a locked SQLite
file past its timeout) refuses the call by default: the error reaches the caller.
Where ``state.on_failure`` says ``open`` for that guard's kind, its hooks are
wrapped here: the hook's store failure is logged (one warning per guard per
``_QUIET`` seconds, so an outage does not flood the log) and the guard steps aside:
the candidate is kept, no ticket is taken, nothing is counted. A *corrupt* value
(``StateStoreError`` that is not ``Unavailable``) is never tolerated: it fails
closed whatever the policy, since it says the data is wrong, not absent.

The hooks are wrapped on the guard instance, so the guard keeps its type (code
that finds a guard by class still does).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Generator, Iterable
from types import GeneratorType
from typing import TYPE_CHECKING, Any

from polyroute.errors import StateStoreUnavailable
from polyroute.logs import get_logger

if TYPE_CHECKING:
    from polyroute.config.cost import StoreFailureConfig
    from polyroute.routing.guards import Guard

__all__ = ["POLICY_OF", "apply_store_failure_policy"]

logger = get_logger("state.failure")

POLICY_OF = {"cost": "budget", "max_cost": "budget", "rate_limit": "rate_limit",
             "rate_limit_cooldown": "rate_limit", "circuit_breaker": "breaker",
             "health": "health"}
"""Guard name -> the ``state.on_failure`` field that governs it."""

_HOOKS = ("skip_reason", "before_attempt", "cancel_attempt", "after_attempt",
          "attempt_interrupted", "after_call", "call_failed")
_QUIET = 30.0


class _Warner:
    def __init__(self, guard: str, field: str) -> None:
        self.guard, self.field = guard, field
        self._last = -_QUIET

    def __call__(self, hook: str, exc: StateStoreUnavailable) -> None:
        now = time.monotonic()
        if now - self._last < _QUIET:
            return
        self._last = now
        logger.warning(
            "%s guard: state store unreachable in %s, failing open "
            "(state.on_failure.%s: open): calls go through uncounted by it until the "
            "store answers. %s", self.guard, hook, self.field, exc)


def _tolerant(fn: Callable[..., Any], hook: str, warn: _Warner) -> Callable[..., Any]:
    @functools.wraps(fn)
    def hook_or_none(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StateStoreUnavailable as exc:
            warn(hook, exc)
            return None

    return hook_or_none


def _atolerant(fn: Callable[..., Any], warn: _Warner) -> Callable[..., Any]:
    @functools.wraps(fn)
    async def hook_or_none(*args: Any, **kwargs: Any) -> Any:
        try:
            return await fn(*args, **kwargs)
        except StateStoreUnavailable as exc:
            warn("abefore_attempt", exc)
            return None

    return hook_or_none


def _tolerant_admit(fn: Callable[..., Any], warn: _Warner) -> Callable[..., Any]:
    """``admit``'s ticket now, or its waiting steps, made tolerant as a whole."""
    @functools.wraps(fn)
    def admit_or_none(*args: Any, **kwargs: Any) -> Any:
        try:
            got = fn(*args, **kwargs)
        except StateStoreUnavailable as exc:
            warn("before_attempt", exc)
            return None
        return _tolerant_steps(got, warn) if isinstance(got, GeneratorType) else got

    return admit_or_none


def _tolerant_steps(steps: Generator[Any, Any, Any], warn: _Warner) -> Generator[Any, Any, Any]:
    try:
        return (yield from steps)
    except StateStoreUnavailable as exc:
        warn("before_attempt", exc)
        return None


def apply_store_failure_policy(guards: Iterable[Guard], policy: StoreFailureConfig) -> None:
    """Wrap the hooks of each guard whose kind ``policy`` lets fail open."""
    for guard in guards:
        field = POLICY_OF.get(guard.name)
        if field is None or getattr(policy, field) != "open":
            continue
        warn = _Warner(guard.name, field)
        for hook in _HOOKS:
            setattr(guard, hook, _tolerant(getattr(guard, hook), hook, warn))
        guard.abefore_attempt = _atolerant(guard.abefore_attempt, warn)  # type: ignore[method-assign]
        guard.admit = _tolerant_admit(guard.admit, warn)  # type: ignore[method-assign]
