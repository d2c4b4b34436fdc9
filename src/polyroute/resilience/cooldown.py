"""Rate-limit cooldown per deployment, as a ``Guard``: repeated 429s route calls
around a deployment for a while instead of hammering it (LiteLLM's cooldown).

```
a 429 asking Retry-After (or a reset header) ► at least that long (≤ max)
the `after`-th 429 in a row ────────────────► at least `initial` seconds
the 429 that ends a cooldown (still in a row) ► the next, x `multiplier` (≤ max)
any success ────────────────────────────────► count and growth start over
```

While cooling down, the planner skips the deployment with the reason
(``Deferred``: kept when no other candidate is usable, so a lone deployment is
still called and its retries honour Retry-After), and a call under way stops
retrying it and falls back (``DeferredSkip``: unless it is the call's last
candidate). The breaker does not count 429s (they say "slow down", not
"broken"); this is the guard that does. State lives in the router's
``StateStore`` under ``rlc:<provider/model>``, so processes sharing a store share
cooldowns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from polyroute.config.resilience import CooldownConfig
from polyroute.errors import StateStoreError
from polyroute.logs import get_logger
from polyroute.resilience.classes import class_of_name
from polyroute.resilience.stored import corrupt, count, is_finite, record
from polyroute.routing.call import DeferredSkip
from polyroute.routing.guards import Guard
from polyroute.routing.plan import Deferred, Deployment
from polyroute.state import StateStore
from polyroute.types import Attempt, ChatRequest, ChatResponse

__all__ = ["RateLimitCooldown"]

logger = get_logger("resilience.cooldown")
_COUNTED = frozenset({"rate_limit", "quota"})
_GUARD = "rate-limit cooldown"
_FAR = 366 * 86400.0
# what after_attempt writes under rlc:<dep>
_STATE = {"until": is_finite, "level": lambda v: type(v) is int and v >= -1,
          "why": lambda v: type(v) is str, "grown": lambda v: type(v) is bool}


class RateLimitCooldown(Guard):
    name = "rate_limit_cooldown"

    def __init__(
        self, cfg: CooldownConfig, store: StateStore, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.cfg = cfg
        self.store = store
        self.clock = clock

    def _growing(self, level: int) -> float:
        c = self.cfg
        try:
            return min(c.max, c.initial * c.multiplier ** min(level, 1000))
        except OverflowError:  # a long run of cooldowns: long since at the cap
            return c.max

    def _get(self, key: str, *, peek: bool = False) -> dict[str, Any] | None:
        st = self.store.peek(key) if peek else self.store.get(key)
        if st is None:
            return None
        st = record(self.store, key, st, _STATE, _GUARD)
        if st["until"] - self.clock() > max(_FAR, 2 * self.cfg.max):
            raise corrupt(self.store, key, st, "a cooldown shorter than a year", _GUARD)
        return st

    def info(self, dep: Deployment | str) -> dict[str, Any]:
        """Seconds left cooling down (0: not), 429s in a row, why (for health/CLI)."""
        st = self._get(f"rlc:{dep}") or {}
        left = max(0.0, float(st.get("until", 0.0)) - self.clock())
        n = count(self.store, f"rlc:{dep}:n", self.store.get(f"rlc:{dep}:n"), _GUARD)
        return {"cooling_for_s": round(left, 3), "in_a_row": int(n), "why": st.get("why")}

    def skip_reason(self, dep: Deployment, request: ChatRequest) -> str | None:
        st = self._get(f"rlc:{dep}", peek=True)
        if st is None:
            return None
        left = float(st["until"]) - self.clock()
        if left <= 0:
            return None
        until = time.strftime("%H:%M:%S", time.localtime(time.time() + left))
        return Deferred(f"rate-limit cooldown until {until} ({left:.1f}s more; {st['why']})")

    def before_attempt(self, dep: Deployment, request: ChatRequest) -> Any:
        """A retry after 429s in a row started a cooldown: fall back now, unless nothing
        comes after this candidate. (A cooldown that only repeats the provider's
        Retry-After does not cut retries: their wait already honours it.)"""
        st = self._get(f"rlc:{dep}", peek=True)
        if st is not None and st.get("grown") and self.clock() < float(st["until"]):
            reason = self.skip_reason(dep, request)
            if reason is not None:
                raise DeferredSkip(reason)
        return None

    def after_attempt(
        self, dep: Deployment, request: ChatRequest, ticket: Any, attempt: Attempt,
        response: ChatResponse | None,
    ) -> None:
        key = f"rlc:{dep}"
        if attempt.ok:
            try:
                seen = self.store.peek(f"{key}:n") is not None
            except StateStoreError:  # undecodable: a success resets it anyway
                seen = True
            if seen:  # it answers again: start over
                self.store.delete(f"{key}:n")
                self.store.delete(key)
            return
        if class_of_name(attempt.error) not in _COUNTED:
            return  # a 500 or a timeout is the breaker's business
        try:
            n = int(self.store.incr(f"{key}:n", 1))
            if n < 1:  # it held a negative count: the cooldown would never start
                raise corrupt(self.store, f"{key}:n", n - 1, "a non-negative count", _GUARD)
        except StateStoreError as exc:
            # fail closed: cool down as after `after` 429s, count afresh, tell this call
            self.store.delete(f"{key}:n")
            self.store.set(key, {"until": self.clock() + self.cfg.initial, "level": 0,
                                 "why": f"corrupt 429 count ({exc})", "grown": True})
            raise
        now = self.clock()
        st = self._get(key)
        cooling = st is not None and now < float(st["until"])
        level = int(st["level"]) if st is not None else -1
        grow = 0.0
        if n >= self.cfg.after and not cooling:  # a call under way does not escalate it
            level += 1
            grow = self._growing(level)
        asked = attempt.retry_after or 0.0
        ask = min(asked, self.cfg.max) if asked > 0 else 0.0
        seconds = max(grow, ask)  # a provider's short reset hint does not cut it short
        if seconds <= 0 or (st is not None and now + seconds <= float(st["until"])):
            return
        if grow >= ask:
            why = f"{n} rate-limit errors in a row, last {attempt.error}"
        else:
            why = f"{attempt.status or 429} asked to retry after {asked:g}s"
        self.store.set(key, {"until": now + seconds, "level": level, "why": why,
                             "grown": grow >= ask})
        logger.warning("rate-limit cooldown for %s: %.1fs (%s)", dep, seconds, why)
