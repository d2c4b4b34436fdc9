"""Retry policy per error class; Retry-After honoured on every attempt, too-long asks fall back."""

from __future__ import annotations

import asyncio

import pytest
from resilience_helpers import FakeClock, ask

from polyroute.config.schema import RetryConfig
from polyroute.errors import ProviderTimeoutError, RateLimitError, ServerError
from polyroute.resilience.retry import RetryPolicy
from polyroute.testing.standin import Fault, StandinServer


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_retry_after_is_a_floor_on_every_attempt(
    make_router, primary: StandinServer, clock: FakeClock, mode: str
) -> None:  # type: ignore[no-untyped-def]
    router = make_router(retry={"attempts": 4, "initial_backoff": 0.01, "max_backoff": 0.02})
    primary.push(Fault.status(429, retry_after=2), Fault.status(503, retry_after_ms=1500),
                 Fault.status(429, retry_after=3))
    resp = router.chat(ask()) if mode == "sync" else asyncio.run(router.achat(ask()))
    assert resp.provider == "primary"
    assert len(clock.waits) == 3
    assert clock.waits[0] >= 2 and clock.waits[1] >= 1.5 and clock.waits[2] >= 3
    assert all(w < 3.1 for w in clock.waits)  # the jitter (≤ 0.02 s) never adds to an ask


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_ask_longer_than_policy_falls_back_without_sleeping(
    make_router, primary: StandinServer, clock: FakeClock, mode: str
) -> None:  # type: ignore[no-untyped-def]
    router = make_router(retry={"max_retry_after": 30})
    primary.push(Fault.status(429, retry_after=31))
    resp = router.chat(ask()) if mode == "sync" else asyncio.run(router.achat(ask()))
    assert resp.provider == "secondary" and clock.waits == []
    assert resp.attempts[0].error == "RateLimitError" and resp.attempts[0].action == "fell_back"


def test_per_class_attempts_and_limits(make_router, primary, clock) -> None:  # type: ignore[no-untyped-def]
    router = make_router(timeouts={"total": None}, retry={
        "attempts": 3, "initial_backoff": 0.1,
        "by_error": {"server": {"attempts": 1},
                     "rate_limit": {"attempts": 5, "max_retry_after": 100}},
    })
    primary.push(Fault.status(500))
    resp = router.chat(ask())
    assert [a.error for a in resp.attempts] == ["ServerError", None]  # no retry for server
    primary.clear()
    clock.waits.clear()
    primary.push(*[Fault.status(429, retry_after=90)] * 4)
    resp = router.chat(ask())
    assert resp.provider == "primary" and len(resp.attempts) == 5  # 90 s ≤ its 100 s ceiling
    assert all(w >= 90 for w in clock.waits)


def test_backoff_is_jittered_exponential_and_capped() -> None:
    policy = RetryPolicy(RetryConfig(attempts=10, initial_backoff=1, max_backoff=4))

    class State:
        def __init__(self, n: int, exc: BaseException) -> None:
            self.attempt_number = n
            self.outcome = type("O", (), {"exception": lambda _s: exc})()

    waits = [policy.wait(State(n, ServerError("x"))) for n in range(1, 9)  # type: ignore[arg-type]
             for _ in range(20)]
    assert all(0 <= w <= 4 for w in waits) and len(set(waits)) > 10
    assert policy.wait(State(1, RateLimitError("x", retry_after=7))) >= 7  # type: ignore[arg-type]
    assert not policy.should_retry(RateLimitError("x", retry_after=61), None)
    assert not policy.should_retry(RateLimitError("x", retry_after=5), remaining=4)
    assert policy.should_retry(ProviderTimeoutError("x"), None)
