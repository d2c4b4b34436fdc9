"""Validating readers for the guard state the resilience layer keeps in a ``StateStore``.

Another process, a hand edit or a bad migration can leave anything under a key:
``NaN``, ``"abc"``, ``{"a": 1}``, a negative count. Every value a guard reads goes
through one of these, so a bad one is never an untyped ``ValueError`` and never
silently opens a circuit or a limit. Two policies (docs/resilience.md):

- **fail closed** (breaker, rate limiter, cooldown): ``StateStoreError`` naming the
  key and the fix; the router refuses the call as it does for a store that cannot
  answer;
- **no data** (health, strategies, failover counts): the value is ignored with one
  warning per key naming it and the fix; a corrupt counter is reset on the next write.

Validation is a type check and a comparison, never a parse: the hot path stays O(1).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from polyroute.errors import StateStoreError, StateStoreUnavailable
from polyroute.state import StateStore
from polyroute.state.base import Counter

__all__ = ["Advisory", "corrupt", "count", "finite", "is_count", "is_finite", "record"]

Check = Callable[[Any], bool]


def _shown(value: Any) -> str:
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def corrupt(store: StateStore, key: str, value: Any, expected: str, guard: str) -> StateStoreError:
    """The typed error for a guard that fails closed on the value at ``key``."""
    return StateStoreError(
        f"state store {store!r}: key '{key}' holds {_shown(value)}, not {expected}; "
        f"the {guard} cannot be checked against it, so the call is refused (fail closed). "
        f"Delete the key to reset it: {store.fix(key)}"
    )


def is_finite(v: Any) -> bool:
    return (type(v) is float or type(v) is int) and math.isfinite(v)


def is_count(v: Any) -> bool:
    return (type(v) is float or type(v) is int) and 0 <= v < math.inf


def finite(store: StateStore, key: str, value: Any, guard: str) -> float:
    """``value`` as a finite float, else ``StateStoreError``."""
    if is_finite(value):
        return float(value)
    raise corrupt(store, key, value, "a finite number", guard)


def count(store: StateStore, key: str, value: Any, guard: str) -> float:
    """``value`` (``None``: 0) as a finite, non-negative float, else ``StateStoreError``."""
    if value is None:
        return 0.0
    if is_count(value):
        return float(value)
    raise corrupt(store, key, value, "a non-negative count", guard)


def record(store: StateStore, key: str, value: Any, fields: Mapping[str, Check],
           guard: str) -> dict[str, Any]:
    """``value`` as a dict holding every one of ``fields`` with a value its check accepts."""
    if type(value) is dict:
        for k, ok in fields.items():
            if k not in value or not ok(value[k]):
                break
        else:
            return value
    raise corrupt(store, key, value, f"a record with {', '.join(fields)}", guard)


class Advisory:
    """Reads for data that only ranks or reports (health, strategies, failover stats):
    a corrupt value is no data, with one warning per key."""

    def __init__(self, store: StateStore, logger: logging.Logger, what: str) -> None:
        self.store = store
        self.logger = logger
        self.what = what
        self._warned: set[str] = set()

    def warn(self, key: str, found: str) -> None:
        if key in self._warned or len(self._warned) > 10_000:  # bounded: junk keys galore
            return
        self._warned.add(key)
        self.logger.warning(
            "state store %r: %s key '%s' holds %s, which is not a value polyroute wrote; "
            "treated as no data (it is reset on the next write). To reset it now: %s",
            self.store, self.what, key, found, self.store.fix(key))

    def get(self, key: str, ok: Check = is_finite) -> Any:
        """The value at ``key`` if ``ok`` accepts it; ``None`` if absent or corrupt."""
        try:
            value = self.store.get(key)
        except StateStoreUnavailable:
            raise  # an outage, not a bad value: state.on_failure decides (docs/state.md)
        except StateStoreError:
            self.warn(key, "undecodable text")  # NaN, "{bad json"
            return None
        if value is None or ok(value):
            return value
        self.warn(key, _shown(value))
        return None

    def number(self, key: str) -> float:
        """A non-negative count at ``key``; absent or corrupt: 0."""
        v = self.get(key, is_count)
        return 0.0 if v is None else float(v)

    def bump(self, key: str, amount: float = 1.0, ttl: float | None = None) -> float:
        """``incr``; a corrupt (or, when counting up, negative) value is reset first. A
        store that cannot answer still raises: ``delete`` fails as ``incr`` did."""
        try:
            value = self.store.incr(key, amount, ttl)
        except StateStoreUnavailable:
            raise
        except StateStoreError:
            value = None
        return self._counted(key, amount, ttl, value)

    def bump_all(self, counters: Sequence[Counter], *, sets: Sequence[tuple[str, Any]] = (),
                 ewma: tuple[str, float, float] | None = None) -> None:
        """``bump`` each counter, ``set`` each of ``sets``, fold ``x`` into the average
        at ``ewma = (key, x, alpha)``: one step of the store (one round trip to a
        server), with ``bump``'s and ``get``'s repairs where a value is corrupt."""
        try:
            values, folded = self.store.bump_all(counters, sets=sets, ewma=ewma)
        except StateStoreUnavailable:
            raise
        except StateStoreError:  # a key of another type: one write at a time, repaired
            for key, amount, ttl in counters:
                self.bump(key, amount, ttl)
            for key, value in sets:
                self.store.set(key, value)
            values, folded = [], False
        for (key, amount, ttl), value in zip(counters, values, strict=False):
            self._counted(key, amount, ttl, value)
        if ewma is not None and not folded:
            key, x, alpha = ewma
            prev = self.get(key, is_count)  # warns: the average starts over
            self.store.set(key, x if prev is None else alpha * x + (1 - alpha) * prev)

    def bump_later(self, counters: Sequence[Counter], *,
                   sets: Sequence[tuple[str, Any]] = (),
                   ewma: tuple[str, float, float] | None = None) -> None:
        """``bump_all`` for writes nobody waits for: a store that holds writes sends
        them later, together (it repairs a corrupt value itself, with a warning)."""
        store = self.store
        if not store.holds_writes:
            self.bump_all(counters, sets=sets, ewma=ewma)
            return
        for key, amount, ttl in counters:
            store.incr_later(key, amount, ttl, reset=True)
        for key, value in sets:
            store.set_later(key, value)
        if ewma is not None:
            store.fold_later(*ewma)

    def _counted(self, key: str, amount: float, ttl: float | None, value: float | None) -> float:
        if value is not None and (amount <= 0 or value >= amount):
            return value
        self.warn(key, "a value that cannot be counted" if value is None else "a negative count")
        self.store.delete(key)
        return self.store.incr(key, amount, ttl)
