"""Guards: components that take part in every routed call.

Circuit breakers, rate limiters, budgets, the usage ledger and the response
cache are all guards. The router calls them at fixed points and knows nothing
else about them, so each lives in its own module and a user can add their own
(``Router(guards=[...])``).

```
before_call ──► (hit? answer now) ──► for each candidate:
    skip_reason ──► (skip with reason)
    for each attempt:  before_attempt ──► send ──► after_attempt
                       (a guard skips: cancel_attempt for those before it)
                       (cancelled/interrupted mid-attempt: attempt_interrupted)
after_call (answered) | call_failed (raised)
call_ended (always, last: whatever way the call left the router)
```

Every method has a no-op default; override what you need. They run on the
request path: keep them fast, never do network IO in them, and never raise
except as documented. The classes live in ``polyroute.guard_base`` (below the
guards layer, so a lower module may implement one); this is their public name.
"""

from __future__ import annotations

from polyroute.guard_base import CandidateSkipped, Guard

__all__ = ["CandidateSkipped", "Guard"]
