"""Circuit breaker transitions with an injected clock; growing, capped cooldown."""

from __future__ import annotations

import asyncio

import pytest
from resilience_helpers import FakeClock, ask

from polyroute.config.resilience import BreakerConfig
from polyroute.errors import NoRouteError
from polyroute.resilience.breaker import CircuitBreaker
from polyroute.routing.guards import CandidateSkipped
from polyroute.routing.plan import Deployment
from polyroute.state import MemoryStore
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import Attempt

DEP = Deployment("p", "m")


def fail(error: str = "ServerError") -> Attempt:
    return Attempt(provider="p", model="m", ok=False, latency_ms=1, error=error)


def ok() -> Attempt:
    return Attempt(provider="p", model="m", ok=True, latency_ms=1)


def breaker(clock: FakeClock, **cfg: object) -> CircuitBreaker:
    defaults: dict[str, object] = {"failures": 3, "failure_ratio": None, "cooldown": 10,
                                   "max_cooldown": 35}
    defaults.update(cfg)
    return CircuitBreaker(BreakerConfig.model_validate(defaults), MemoryStore(clock), clock=clock)


def run(b: CircuitBreaker, attempt: Attempt) -> None:
    ticket = b.before_attempt(DEP, ask())
    b.after_attempt(DEP, ask(), ticket, attempt, None)


def test_consecutive_failures_open_then_half_open_probe_closes(clock: FakeClock) -> None:
    b = breaker(clock)
    run(b, fail())
    run(b, fail())
    run(b, ok())  # a success resets the consecutive count
    run(b, fail())
    run(b, fail())
    assert b.state(DEP) == "closed"
    run(b, fail())
    assert b.state(DEP) == "open"
    reason = b.skip_reason(DEP, ask())
    assert reason is not None and reason.startswith("circuit open until")
    assert "3 consecutive failures" in reason
    with pytest.raises(CandidateSkipped):
        b.before_attempt(DEP, ask())
    clock.advance(10)
    assert b.state(DEP) == "half_open" and b.skip_reason(DEP, ask()) is None
    probe = b.before_attempt(DEP, ask())
    # HALF_OPEN admits one probe: the next call is refused while it runs
    assert b.skip_reason(DEP, ask()) == "circuit half-open: probe in flight"
    with pytest.raises(CandidateSkipped, match="probe in flight"):
        b.before_attempt(DEP, ask())
    b.after_attempt(DEP, ask(), probe, ok(), None)
    assert b.state(DEP) == "closed" and b.skip_reason(DEP, ask()) is None


def test_failed_probe_reopens_with_growing_capped_cooldown(clock: FakeClock) -> None:
    b = breaker(clock, failures=1)
    run(b, fail())
    cooldowns = []
    for _ in range(4):
        assert b.state(DEP) == "open"
        start = clock()
        clock.advance(0.001)
        while b.state(DEP) == "open":
            clock.advance(0.5)
        cooldowns.append(round(clock() - start))
        probe = b.before_attempt(DEP, ask())
        b.after_attempt(DEP, ask(), probe, fail("ProviderTimeoutError"), None)
    assert cooldowns == [10, 20, 35, 35]  # x2 each reopening, capped at max_cooldown
    clock.advance(35)
    probe = b.before_attempt(DEP, ask())
    b.after_attempt(DEP, ask(), probe, ok(), None)
    run(b, fail())  # closed again: the cooldown is back to its base
    clock.advance(10)
    assert b.state(DEP) == "half_open"


def test_client_errors_do_not_count_and_classes_are_configurable(clock: FakeClock) -> None:
    b = breaker(clock, failures=2)
    for err in ("BadRequestError", "AuthenticationError", "NotFoundError", "RateLimitError",
                "ContextWindowError", "BadRequestError"):
        run(b, fail(err))
    assert b.state(DEP) == "closed"
    b2 = breaker(clock, failures=2, count=["rate_limit"])
    run(b2, fail("RateLimitError"))
    run(b2, fail("RateLimitError"))
    assert b2.state(DEP) == "open"


def test_failure_ratio_needs_minimum_requests(clock: FakeClock) -> None:
    b = breaker(clock, failures=100, failure_ratio=0.5, min_requests=6, window=60)
    for attempt in (ok(), fail(), ok(), fail(), fail()):
        run(b, attempt)
    assert b.state(DEP) == "closed"  # 3/5 failed, but fewer than 6 requests
    run(b, fail())
    assert b.state(DEP) == "open"
    assert "recent requests failed" in (b.info(DEP)["why"] or "")


def test_probe_skipped_by_a_later_guard_is_released(clock: FakeClock) -> None:
    b = breaker(clock, failures=1)
    run(b, fail())
    clock.advance(10)
    ticket = b.before_attempt(DEP, ask())
    b.cancel_attempt(DEP, ask(), ticket)
    assert b.before_attempt(DEP, ask()) == ticket  # the probe slot is free again


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_router_skips_open_circuit_with_reason(
    make_router, primary: StandinServer, secondary: StandinServer, clock: FakeClock, mode: str
) -> None:  # type: ignore[no-untyped-def]
    router = make_router(breaker={"failures": 3, "cooldown": 30})
    primary.push(*[Fault.status(500)] * 3)
    call = router.chat if mode == "sync" else (lambda r: asyncio.run(router.achat(r)))
    assert call(ask()).provider == "secondary"
    assert router.resilience.breaker.state("primary/m1") == "open"
    before = len(primary.requests)
    resp = call(ask())
    assert resp.provider == "secondary" and len(primary.requests) == before
    assert [a.provider for a in resp.attempts] == ["secondary"]
    plan = router.plan(ask())
    assert plan.skipped and plan.skipped[0].reason.startswith("circuit open until")
    secondary.push(Fault.status(401))
    with pytest.raises(NoRouteError, match="circuit open until"):
        call(ask())
    clock.advance(31)  # half-open: one probe goes to the primary, and closes it
    assert call(ask()).provider == "primary"
    assert router.resilience.breaker.state("primary/m1") == "closed"


def test_breaker_trips_mid_call_and_skips_remaining_retries(make_router, primary) -> None:  # type: ignore[no-untyped-def]
    router = make_router(breaker={"failures": 2}, retry={"attempts": 5})
    primary.push(*[Fault.status(503)] * 5)
    resp = router.chat(ask())
    assert resp.provider == "secondary"
    assert [a.error for a in resp.attempts] == ["OverloadedError", "OverloadedError", None]
    assert len(primary.requests) == 2
