"""A circuit breaker per deployment, as a ``Guard``.

```
CLOSED ──(N consecutive counted failures, or failure ratio ≥ r over the window
          once it holds ≥ min_requests)──► OPEN
OPEN ──(cooldown passed)──► HALF_OPEN: admits ``half_open_probes`` calls
HALF_OPEN ──probe succeeds──► CLOSED (cooldown back to its base)
HALF_OPEN ──probe fails────► OPEN, cooldown x multiplier (capped at max_cooldown)
```

Only the error classes in ``breaker.count`` count (default: server, overloaded,
timeout, connection); a 400 or 401 says nothing about the deployment's health.
State lives in the router's ``StateStore`` under ``cb:<provider/model>``, so
processes sharing a store share circuits. Per attempt the work is O(1): one
read before, one to three counter updates after.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from polyroute.config.resilience import BreakerConfig
from polyroute.errors import StateStoreError
from polyroute.logs import get_logger
from polyroute.resilience.classes import class_of_name
from polyroute.resilience.stored import corrupt, count, is_finite, record
from polyroute.routing.guards import CandidateSkipped, Guard
from polyroute.routing.plan import Deployment
from polyroute.state import StateStore
from polyroute.types import Attempt, ChatRequest, ChatResponse

__all__ = ["CircuitBreaker"]

logger = get_logger("resilience.breaker")
_PROBE = "probe"
_GUARD = "circuit breaker"
_FAR = 366 * 86400.0
# what _open writes under cb:<dep>
_STATE = {"until": is_finite, "n": lambda v: type(v) is int and v >= 0,
          "why": lambda v: v is None or type(v) is str}


class CircuitBreaker(Guard):
    name = "circuit_breaker"

    def __init__(
        self, cfg: BreakerConfig, store: StateStore, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.clock = clock
        self._count = frozenset(cfg.count)
        self._ratio = cfg.failure_ratio
        self._far = max(_FAR, 2 * cfg.max_cooldown)
        self.on_open: Callable[[str, str], None] | None = None
        """Told ``(deployment, why)`` each time a circuit opens (the router's alerts)."""

    # --- reading ------------------------------------------------------------------

    def state(self, dep: Deployment | str) -> str:
        """``closed``, ``open`` or ``half_open`` (cooldown over, probing)."""
        st = self._get(f"cb:{dep}")
        if st is None:
            return "closed"
        return "open" if self.clock() < st["until"] else "half_open"

    def _get(self, key: str) -> dict[str, Any] | None:
        st = self.store.get(key)
        if st is None:
            return None
        st = record(self.store, key, st, _STATE, _GUARD)
        if st["until"] - self.clock() > self._far:  # no cooldown is that long: open forever
            raise corrupt(self.store, key, st, "a circuit open for less than a year", _GUARD)
        return st

    def _counted(self, key: str, value: float) -> float:
        """A counter just incremented by 1: below 1 it held a negative count, which
        would keep the circuit closed however many calls fail."""
        if value < 1:
            raise corrupt(self.store, key, value - 1, "a non-negative count", _GUARD)
        return value

    def info(self, dep: Deployment | str) -> dict[str, Any]:
        """State, reopen count, seconds left open, why it opened (for health/CLI)."""
        st = self._get(f"cb:{dep}") or {}
        left = max(0.0, st.get("until", 0.0) - self.clock()) if st else 0.0
        return {"state": self.state(dep), "opened": st.get("n", 0), "open_for_s": round(left, 3),
                "why": st.get("why")}

    def _cooldown(self, reopenings: int) -> float:
        c = self.cfg
        try:  # a corrupt or very long run of reopenings: long since at the cap
            return min(c.max_cooldown, c.cooldown * c.cooldown_multiplier ** min(reopenings, 1000))
        except OverflowError:
            return c.max_cooldown

    # --- guard hooks ----------------------------------------------------------------

    def skip_reason(self, dep: Deployment, request: ChatRequest) -> str | None:
        st = self._get(f"cb:{dep}")
        if st is None:
            return None
        return self._refusal(dep, st, probing=False)

    def _refusal(self, dep: Deployment, st: dict[str, Any], *, probing: bool) -> str | None:
        left = st["until"] - self.clock()
        if left > 0:
            until = time.strftime("%H:%M:%S", time.localtime(time.time() + left))
            return f"circuit open until {until} ({left:.1f}s more; {st.get('why')})"
        if probing:
            return None
        key = f"cb:{dep}:probes"
        used = count(self.store, key, self.store.get(key), _GUARD)
        if used >= self.cfg.half_open_probes:
            return "circuit half-open: probe in flight"
        return None

    def before_attempt(self, dep: Deployment, request: ChatRequest) -> Any:
        key = f"cb:{dep}"
        st = self._get(key)
        if st is None:
            return None
        reason = self._refusal(dep, st, probing=True)
        if reason is not None:
            raise CandidateSkipped(reason)
        if not self.store.reserve(f"{key}:probes", 1, self.cfg.half_open_probes,
                                  ttl=self._cooldown(int(st["n"])), floor=0):
            raise CandidateSkipped("circuit half-open: probe in flight")
        return _PROBE

    def cancel_attempt(self, dep: Deployment, request: ChatRequest, ticket: Any) -> None:
        if ticket == _PROBE:
            self.store.incr(f"cb:{dep}:probes", -1)

    def after_attempt(
        self, dep: Deployment, request: ChatRequest, ticket: Any, attempt: Attempt,
        response: ChatResponse | None,
    ) -> None:
        counted = not attempt.ok and class_of_name(attempt.error) in self._count
        if ticket == _PROBE:
            if counted:
                self._open(dep, f"half-open probe failed with {attempt.error}", reopen=True)
            else:
                self._close(dep)
            return
        self.record(dep, ok=not counted, counted=attempt.ok or counted, error=attempt.error)

    def record(self, dep: Deployment | str, *, ok: bool, counted: bool = True,
               error: str | None = None) -> None:
        """One outcome in CLOSED state (``counted=False``: neither success nor failure).

        A corrupt counter fails closed: the circuit opens (its reason names the key),
        the counters start over, and the ``StateStoreError`` is raised for this call.
        A store that cannot answer raises from ``_open`` as it did here."""
        if not counted:
            return
        try:
            self._record(dep, ok, error)
        except StateStoreError as exc:
            key, w = f"cb:{dep}", int(self.clock() // self.cfg.window)
            for k in (f"{key}:f", f"{key}:w{w}:n", f"{key}:w{w}:f", f"{key}:w{w - 1}:n",
                      f"{key}:w{w - 1}:f"):
                self.store.delete(k)
            self._open(dep, f"corrupt breaker state ({exc})")
            raise

    def _record(self, dep: Deployment | str, ok: bool, error: str | None) -> None:
        key = f"cb:{dep}"
        store = self.store
        ratio = self._ratio
        if ratio is not None:
            window = self.cfg.window
            w = int(self.clock() // window)
            n = self._counted(f"{key}:w{w}:n", store.incr(f"{key}:w{w}:n", 1, ttl=window * 2))
        if ok:
            store.delete(f"{key}:f")
            return
        fails = self._counted(f"{key}:f", store.incr(f"{key}:f", 1))
        if fails >= self.cfg.failures:
            self._open(dep, f"{int(fails)} consecutive failures, last {error}")
            return
        if ratio is not None:
            f = self._counted(f"{key}:w{w}:f", store.incr(f"{key}:w{w}:f", 1, ttl=window * 2))
            # Sliding estimate: the current window plus the previous one's share.
            frac = (self.clock() % window) / window
            pn, pf = f"{key}:w{w - 1}:n", f"{key}:w{w - 1}:f"
            prev_n = count(store, pn, store.get(pn), _GUARD)
            prev_f = count(store, pf, store.get(pf), _GUARD)
            total = n + prev_n * (1 - frac)
            failed = f + prev_f * (1 - frac)
            if total >= self.cfg.min_requests and failed / total >= ratio:
                self._open(dep, f"{failed / total:.0%} of {total:.0f} recent requests failed, "
                                f"last {error}")

    # --- transitions --------------------------------------------------------------------

    def _open(self, dep: Deployment | str, why: str, *, reopen: bool = False) -> None:
        key = f"cb:{dep}"
        st = self._get(key)
        if st is not None and not reopen and self.clock() < st["until"]:
            return  # already open
        n = (int(st["n"]) + 1) if (reopen and st is not None) else 0
        cooldown = self._cooldown(n)
        self.store.set(key, {"until": self.clock() + cooldown, "n": n, "why": why})
        self.store.delete(f"{key}:probes")
        self.store.delete(f"{key}:f")
        logger.warning("circuit for %s opened for %.1fs: %s", dep, cooldown, why)
        if self.on_open is not None:
            self.on_open(str(dep), why)

    def _close(self, dep: Deployment | str) -> None:
        key = f"cb:{dep}"
        w = int(self.clock() // self.cfg.window)
        for k in (key, f"{key}:probes", f"{key}:f", f"{key}:w{w}:n", f"{key}:w{w}:f",
                  f"{key}:w{w - 1}:n", f"{key}:w{w - 1}:f"):
            self.store.delete(k)  # a fresh start: old failures do not reopen it
        logger.info("circuit for %s closed", dep)

    def reset(self, dep: Deployment | str) -> None:
        """Close the circuit by hand."""
        self._close(dep)
