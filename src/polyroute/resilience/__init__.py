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
are injectable so tests move time instead of sleeping. Their config sections live
in ``polyroute.config.resilience``.
"""

from polyroute.resilience.breaker import CircuitBreaker
from polyroute.resilience.classes import error_class
from polyroute.resilience.cooldown import RateLimitCooldown
from polyroute.resilience.failover import FailoverStats
from polyroute.resilience.health import HealthTracker
from polyroute.resilience.ratelimit import RateLimiter
from polyroute.resilience.retry import RetryPolicy

__all__ = [
    "CircuitBreaker",
    "FailoverStats",
    "HealthTracker",
    "RateLimitCooldown",
    "RateLimiter",
    "RetryPolicy",
    "error_class",
]
