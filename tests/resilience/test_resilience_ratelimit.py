"""Rate limits per deployment: requests and tokens, three algorithms, wait or skip,
priority, adaptive after 429s."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from resilience_helpers import FakeClock, ask

from polyroute.config.resilience import RateLimitsConfig
from polyroute.config.schema import ProviderConfig
from polyroute.resilience.ratelimit import RateLimiter, Ticket, request_priority
from polyroute.routing.guards import CandidateSkipped
from polyroute.routing.plan import Deployment
from polyroute.state import MemoryStore
from polyroute.testing.standin import Fault, StandinServer
from polyroute.tokens import estimate_prompt_tokens
from polyroute.types import Attempt, ChatResponse, Message, Usage

DEP = Deployment("p", "m")


def limiter(clock: FakeClock, **cfg: Any) -> RateLimiter:
    return RateLimiter(RateLimitsConfig.model_validate(cfg), {}, MemoryStore(clock), clock=clock,
                       sleep=clock.sleep, asleep=clock.asleep)


@pytest.mark.parametrize("algorithm", ["fixed_window", "sliding_window", "token_bucket"])
def test_requests_per_window_for_each_algorithm(clock: FakeClock, algorithm: str) -> None:
    rl = limiter(clock, algorithm=algorithm, on_limit="skip",
                 deployments={"p/m": {"rpm": 3}}, adaptive=False)
    clock.t = 1_800_000_000.0  # a window boundary
    for _ in range(3):
        assert isinstance(rl.before_attempt(DEP, ask()), Ticket)
    with pytest.raises(CandidateSkipped, match="3 requests per 60s reached for p/m"):
        rl.before_attempt(DEP, ask())
    clock.advance(60.0)
    if algorithm == "sliding_window":  # the previous window still weighs in fully here
        with pytest.raises(CandidateSkipped):
            rl.before_attempt(DEP, ask())
        clock.advance(30.0)  # half of it left: room for 1.5 → 1 call
    assert isinstance(rl.before_attempt(DEP, ask()), Ticket)


def test_token_bucket_refills_continuously_and_caps_at_capacity(clock: FakeClock) -> None:
    rl = limiter(clock, algorithm="token_bucket", on_limit="skip",
                 deployments={"p": {"rpm": 60}}, adaptive=False)
    for _ in range(60):
        rl.before_attempt(DEP, ask())
    with pytest.raises(CandidateSkipped, match=r"next slot in 1\.0s"):
        rl.before_attempt(DEP, ask())
    clock.advance(1.0)
    rl.before_attempt(DEP, ask())  # one token refilled per second
    clock.advance(3600)  # idle for an hour: still only a window's burst
    for _ in range(60):
        rl.before_attempt(DEP, ask())
    with pytest.raises(CandidateSkipped):
        rl.before_attempt(DEP, ask())


def test_tokens_estimated_before_and_settled_after(clock: FakeClock) -> None:
    rl = limiter(clock, algorithm="fixed_window", on_limit="skip",
                 deployments={"p/m": {"tpm": 1000}})
    request = ask("x" * 400)
    request.params.max_tokens = 100
    estimate = estimate_prompt_tokens(request) + 100
    ticket = rl.before_attempt(DEP, request)
    assert isinstance(ticket, Ticket) and ticket.tokens == estimate
    assert rl.store.get(ticket.tok_key) == estimate  # type: ignore[arg-type]
    resp = ChatResponse(message=Message.assistant("ok"),
                        usage=Usage(input_tokens=50, output_tokens=20))
    rl.after_attempt(DEP, request, ticket, Attempt(provider="p", model="m", ok=True,
                                                   latency_ms=1), resp)
    assert rl.store.get(ticket.tok_key) == 70  # type: ignore[arg-type]
    failed = rl.before_attempt(DEP, request)  # a failed attempt gives its tokens back
    rl.after_attempt(DEP, request, failed, Attempt(provider="p", model="m", ok=False,
                                                   latency_ms=1, error="ServerError"), None)
    assert rl.store.get(ticket.tok_key) == 70  # type: ignore[arg-type]
    big = ask("y" * 8000)
    with pytest.raises(CandidateSkipped, match="tokens per 60s"):
        rl.before_attempt(DEP, big)
    assert rl.store.get(ticket.req_key or "rl:p/m:req:x") is None  # no request limit set


def test_a_request_reused_after_an_edit_is_estimated_again(clock: FakeClock) -> None:
    """The router hands the caller's own request object to guards (no copy without
    params to merge): one reused with its messages or max_tokens changed between two
    calls must not be admitted on the first call's estimate."""
    rl = limiter(clock, algorithm="fixed_window", on_limit="skip",
                 deployments={"p/m": {"tpm": 100_000}})
    request = ask("x" * 40)
    first = rl.before_attempt(DEP, request)
    request.messages[0].content = "y" * 4000  # edited in place
    request.params.max_tokens = 500
    second = rl.before_attempt(DEP, request)
    assert isinstance(first, Ticket) and isinstance(second, Ticket)
    assert second.tokens == estimate_prompt_tokens(request) + 500 > first.tokens


def test_wait_until_the_window_has_room_then_skip_past_max_wait(clock: FakeClock) -> None:
    rl = limiter(clock, algorithm="fixed_window", on_limit="wait", max_wait=30,
                 deployments={"p/m": {"rpm": 1}})
    clock.t = 1_800_000_000.0 + 40  # 20 s left in this window
    rl.before_attempt(DEP, ask())
    assert isinstance(rl.before_attempt(DEP, ask()), Ticket)  # waited for the next window
    assert sum(clock.waits) == pytest.approx(20.0)
    clock.waits.clear()
    with pytest.raises(CandidateSkipped, match=r"next slot in 60\.0s"):
        rl.before_attempt(DEP, ask())  # the next slot is 60 s away, beyond max_wait
    assert clock.waits == []  # and it did not sleep in vain


def test_async_wait(clock: FakeClock) -> None:
    rl = limiter(clock, algorithm="fixed_window", deployments={"p/m": {"rpm": 1}})
    clock.t = 1_800_000_000.0 + 55
    rl.before_attempt(DEP, ask())
    assert isinstance(asyncio.run(rl.abefore_attempt(DEP, ask())), Ticket)
    assert sum(clock.waits) == pytest.approx(5.0)


def test_higher_priority_waits_first(clock: FakeClock) -> None:
    rl = limiter(clock, deployments={"p/m": {"rpm": 1}})
    low = rl._enqueue("p/m", request_priority(ask(tags={"priority": "low"})))
    high = rl._enqueue("p/m", request_priority(ask(tags={"priority": "high"})))
    assert rl._is_head("p/m", high) and not rl._is_head("p/m", low)
    assert rl._queued_ahead("p/m", 0)  # a normal newcomer queues behind the high one
    assert not rl._queued_ahead("p/m", 20)  # a critical one goes straight to the limit
    rl._dequeue("p/m", high)
    assert rl._is_head("p/m", low)
    assert request_priority(ask(tags={"priority": "7"})) == 7


def test_adaptive_after_429_lowers_then_recovers(clock: FakeClock) -> None:
    rl = limiter(clock, algorithm="fixed_window", on_limit="skip", recovery=100,
                 deployments={"p/m": {"rpm": 10}})
    ticket = rl.before_attempt(DEP, ask())
    rl.after_attempt(DEP, ask(), ticket, Attempt(provider="p", model="m", ok=False,
                                                 latency_ms=1, error="RateLimitError"), None)
    assert rl.factor("p/m") == pytest.approx(0.5)
    assert rl.throttle("p/m") == pytest.approx(0.25)
    clock.advance(50)
    assert rl.factor("p/m") == pytest.approx(0.625)  # linear recovery
    clock.advance(60)
    assert rl.factor("p/m") == 1.0


def test_provider_rpm_applies_to_each_deployment(clock: FakeClock) -> None:
    rl = RateLimiter(RateLimitsConfig(on_limit="skip"),
                     {"p": ProviderConfig(type="echo", rpm=1)}, MemoryStore(clock), clock=clock)
    rl.before_attempt(DEP, ask())
    rl.before_attempt(Deployment("p", "other"), ask())
    with pytest.raises(CandidateSkipped):
        rl.before_attempt(DEP, ask())
    assert rl.limit_for(Deployment("q", "m")) is None


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_router_skip_moves_to_next_candidate_and_wait_waits(
    make_router, secondary: StandinServer, clock: FakeClock, mode: str
) -> None:  # type: ignore[no-untyped-def]
    router = make_router(rate_limits={"on_limit": "skip", "deployments": {"primary": {"rpm": 1}}})

    def call() -> Any:
        return router.chat(ask()) if mode == "sync" else asyncio.run(router.achat(ask()))

    assert call().provider == "primary"
    resp = call()
    assert resp.provider == "secondary" and [a.provider for a in resp.attempts] == ["secondary"]
    waiting = make_router(rate_limits={"max_wait": 120, "algorithm": "fixed_window",
                                       "deployments": {"primary": {"rpm": 1}}})
    assert waiting.chat(ask()).provider == "primary"
    clock.waits.clear()
    assert call_with(waiting, mode).provider == "primary"
    assert 0 < sum(clock.waits) <= 60


def call_with(router: Any, mode: str) -> Any:
    return router.chat(ask()) if mode == "sync" else asyncio.run(router.achat(ask()))


def test_router_429_throttles_the_deployment(make_router, primary: StandinServer) -> None:  # type: ignore[no-untyped-def]
    router = make_router(rate_limits={"deployments": {"primary": {"rpm": 100}}})
    primary.push(Fault.status(429, retry_after=0.1))
    assert router.chat(ask()).provider == "primary"
    assert router.resilience.limiter.factor("primary/m1") == pytest.approx(0.5, abs=0.01)


# --- requests and tokens of a sliding window: one step of the store -------------------

@pytest.fixture(params=["memory", "redis"])
def shared_store(request: pytest.FixtureRequest, clock: FakeClock) -> Any:
    if request.param == "memory":
        yield MemoryStore(clock)
        return
    from polyroute.state.redis import RedisStore

    url, prefix = request.getfixturevalue("redis_url")
    store = RedisStore(url, prefix=prefix, write_behind=60.0)  # held until flushed
    yield store
    store.close()


def _settled(store: Any) -> None:
    """Send what is held; a Redis store also gives its unused leases back."""
    getattr(store, "return_leases", store.flush)()


def _both(clock: FakeClock, store: Any, rpm: int, tpm: int) -> RateLimiter:
    cfg = RateLimitsConfig.model_validate({"algorithm": "sliding_window", "on_limit": "skip",
                                           "adaptive": False,
                                           "deployments": {"p/m": {"rpm": rpm, "tpm": tpm}}})
    return RateLimiter(cfg, {}, store, clock=clock, sleep=clock.sleep, asleep=clock.asleep)


def test_a_refused_token_reservation_gives_the_request_back(clock: FakeClock,
                                                             shared_store: Any) -> None:
    clock.t = 1_800_000_000.0
    rl = _both(clock, shared_store, rpm=10, tpm=150)
    request = ask("x" * 40)
    request.params.max_tokens = 90  # ~107 tokens: fits once, not twice
    assert isinstance(rl.before_attempt(DEP, request), Ticket)
    with pytest.raises(CandidateSkipped, match="tokens per 60s"):
        rl.before_attempt(DEP, request)
    _settled(shared_store)
    w = int(clock() // 60)
    assert shared_store.get(f"rl:p/m:req:{w}") == 1  # the refused call's request given back


def test_a_refused_request_gives_the_tokens_back(clock: FakeClock, shared_store: Any) -> None:
    clock.t = 1_800_000_000.0
    rl = _both(clock, shared_store, rpm=1, tpm=10_000)
    request = ask("hi")
    first = rl.before_attempt(DEP, request)
    assert isinstance(first, Ticket)
    with pytest.raises(CandidateSkipped, match="1 requests per 60s"):
        rl.before_attempt(DEP, request)
    _settled(shared_store)
    w = int(clock() // 60)
    assert shared_store.get(f"rl:p/m:tok:{w}") == first.tokens  # only the admitted call's
