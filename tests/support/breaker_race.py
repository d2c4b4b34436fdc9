"""Worker processes for the breaker race tests: each builds its own store on the
shared backend and its own breaker, then meets the others at a barrier before
every round, so their transitions land at the same moment."""

from __future__ import annotations

from typing import Any


def _store(kind: str, where: str, prefix: str) -> Any:
    if kind == "sqlite":
        from polyroute.state.sqlite import SQLiteStore

        return SQLiteStore(where)
    from polyroute.state.redis import RedisStore

    return RedisStore(where, prefix=prefix)


def race(scenario: str, kind: str, where: str, prefix: str, rounds: int, barrier: Any,
         results: Any) -> None:
    """Play ``rounds`` rounds of ``scenario``; put ``(alerts, probes admitted)`` on ``results``."""
    from polyroute.config.resilience import BreakerConfig
    from polyroute.guard_base import CandidateSkipped
    from polyroute.refs import Deployment
    from polyroute.resilience.breaker import CircuitBreaker
    from polyroute.types import Attempt, ChatRequest, Message

    store = _store(kind, where, prefix)
    probes = 2 if scenario == "reopen" else 1
    breaker = CircuitBreaker(BreakerConfig(failures=1, failure_ratio=None, cooldown=60,
                                           half_open_probes=probes), store)
    alerts: list[str] = []
    breaker.on_open = lambda dep, why: alerts.append(dep)
    ask = ChatRequest(messages=[Message.user("hi")])
    admitted = 0
    try:
        for r in range(rounds):
            dep = Deployment("p", f"m{r}")
            barrier.wait(60)
            if scenario == "open":
                breaker.record(dep, ok=False, error="ServerError")
                continue
            try:
                ticket = breaker.before_attempt(dep, ask)
            except CandidateSkipped:
                continue
            admitted += 1
            if scenario == "reopen":  # every admitted probe fails at once
                barrier.wait(60)
                failed = Attempt(provider="p", model=f"m{r}", ok=False, latency_ms=1,
                                 error="ServerError")
                breaker.after_attempt(dep, ask, ticket, failed, None)
            elif scenario == "probe":
                pass  # hold the probe: the round's other processes must be refused
        results.put((len(alerts), admitted))
    finally:
        store.close()
