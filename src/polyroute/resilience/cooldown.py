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
from polyroute.logs import get_logger
from polyroute.resilience.classes import class_of_name
from polyroute.routing.call import DeferredSkip
from polyroute.routing.guards import Guard
from polyroute.routing.plan import Deferred, Deployment
from polyroute.state import StateStore
from polyroute.types import Attempt, ChatRequest, ChatResponse

__all__ = ["RateLimitCooldown"]

logger = get_logger("resilience.cooldown")
_COUNTED = frozenset({"rate_limit", "quota"})


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

    def info(self, dep: Deployment | str) -> dict[str, Any]:
        """Seconds left cooling down (0: not), 429s in a row, why (for health/CLI)."""
        st = self.store.get(f"rlc:{dep}") or {}
        left = max(0.0, float(st.get("until", 0.0)) - self.clock())
        return {"cooling_for_s": round(left, 3), "in_a_row": int(self.store.get(f"rlc:{dep}:n")
                                                                 or 0), "why": st.get("why")}

    def skip_reason(self, dep: Deployment, request: ChatRequest) -> str | None:
        st = self.store.get(f"rlc:{dep}")
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
        st = self.store.get(f"rlc:{dep}")
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
            if self.store.get(f"{key}:n") is not None:  # it answers again: start over
                self.store.delete(f"{key}:n")
                self.store.delete(key)
            return
        if class_of_name(attempt.error) not in _COUNTED:
            return  # a 500 or a timeout is the breaker's business
        n = int(self.store.incr(f"{key}:n", 1))
        now = self.clock()
        st = self.store.get(key)
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
