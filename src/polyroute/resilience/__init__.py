"""Resilience: retry policy per error class, circuit breakers, health, rate limits,
failover statistics and the streaming failure policy.

```
Router ──► Planner ──► strategy (orders a tier; may read health)
   │          └─ guards' skip_reason: "circuit open until …"
   └─ per attempt: guards ── CircuitBreaker   (state in router.state)
                          ── RateLimitCooldown (429s in a row: route around it a while)
                          ── RateLimiter      (windows in router.state)
                          ── HealthTracker    (samples in router.state)
      RetryPolicy (tenacity: stop/wait/retry per error class, Retry-After floor)
      FailoverStats (from → to, by reason)
```

Every piece of shared state goes through the router's ``StateStore``; clocks
are injectable so tests move time instead of sleeping. The modules import
lazily (this package is imported by the config schema).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CircuitBreaker",
    "FailoverStats",
    "HealthTracker",
    "RateLimitCooldown",
    "RateLimiter",
    "RetryPolicy",
    "error_class",
]

_WHERE = {
    "CircuitBreaker": "polyroute.resilience.breaker",
    "FailoverStats": "polyroute.resilience.failover",
    "HealthTracker": "polyroute.resilience.health",
    "RateLimitCooldown": "polyroute.resilience.cooldown",
    "RateLimiter": "polyroute.resilience.ratelimit",
    "RetryPolicy": "polyroute.resilience.retry",
    "error_class": "polyroute.resilience.classes",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(name)
