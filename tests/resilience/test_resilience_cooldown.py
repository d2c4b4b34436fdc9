"""Rate-limit cooldown (issue 9, item 6): repeated 429s route calls around a deployment
instead of hammering it; Retry-After starts one at once; growth, cap, reset, opt-out."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from resilience_helpers import FakeClock, ask

from polyroute.config.resilience import CooldownConfig
from polyroute.errors import ConfigError, NoRouteError
from polyroute.resilience.cooldown import RateLimitCooldown
from polyroute.router import Router
from polyroute.routing.plan import Deployment
from polyroute.state.memory import MemoryStore
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import Attempt
from polyroute_openai.standin import OpenAIResponder

pytestmark = pytest.mark.standin


@pytest.fixture
def openai_pair() -> Iterator[tuple[StandinServer, StandinServer]]:
    """A broken OpenAI stand-in (429 to everything, no Retry-After) and a healthy one."""
    with StandinServer(OpenAIResponder()) as bad, StandinServer(OpenAIResponder()) as good:
        bad.push(*[Fault.status(429) for _ in range(500)])
        yield bad, good


def _openai_router(bad: StandinServer, good: StandinServer, clock: FakeClock,
                   **overrides: Any) -> Router:
    config: dict[str, Any] = {
        "providers": {
            "bad": {"type": "openai", "base_url": bad.url + "/v1", "api_key": "sk-x"},
            "good": {"type": "openai", "base_url": good.url + "/v1", "api_key": "sk-x"},
        },
        "agents": {"bot": {"model": "bad:gpt-4.1-mini", "fallbacks": ["good:gpt-4.1-mini"]}},
    }
    config.update(overrides)  # retry and cooldown: the defaults unless a test says
    return Router(config, sleep=clock.sleep, asleep=clock.asleep, clock=clock)


@pytest.mark.parametrize("seconds_between_calls", [0.0, 10.0])
def test_429_forever_before_a_healthy_fallback_is_hit_a_few_times_not_60(
    openai_pair: tuple[StandinServer, StandinServer], clock: FakeClock,
    seconds_between_calls: float,
) -> None:
    bad, good = openai_pair
    with _openai_router(bad, good, clock) as router:
        for _ in range(20):
            assert router.chat(ask()).provider == "good"
            clock.advance(seconds_between_calls)
    # before: 20 calls x 3 attempts = 60 hits (and ~30 s of backoff)
    assert len(bad.requests) <= 10, len(bad.requests)
    assert len(good.requests) == 20
    waited = sum(clock.waits)
    assert waited < 10, clock.waits  # only the first call's backoff, not every call's


def test_cooldown_grows_while_429s_continue_and_a_success_ends_it(clock: FakeClock) -> None:
    guard = RateLimitCooldown(CooldownConfig(initial=5, multiplier=2, max=30), MemoryStore(),
                              clock=clock)
    dep = Deployment("p", "m")
    req = ask()

    def attempt(ok: bool, retry_after: float | None = None) -> None:
        a = Attempt(provider="p", model="m", ok=ok, latency_ms=1.0,
                    error=None if ok else "RateLimitError", status=None if ok else 429,
                    retry_after=retry_after)
        guard.after_attempt(dep, req, None, a, None)

    attempt(False)
    attempt(False)
    assert guard.skip_reason(dep, req) is None  # two 429s: not yet (after: 3)
    seen = []
    for _ in range(6):
        attempt(False)  # the 429 that ends (or starts) a cooldown starts the next
        seen.append(guard.info(dep)["cooling_for_s"])
        reason = guard.skip_reason(dep, req)
        assert reason is not None and "rate-limit cooldown" in reason
        assert "rate-limit errors in a row, last RateLimitError" in reason
        attempt(False)  # a call already under way: does not escalate it
        clock.advance(seen[-1])
    assert seen == [5, 10, 20, 30, 30, 30]  # x multiplier, capped at max
    attempt(True)
    assert guard.info(dep) == {"cooling_for_s": 0, "in_a_row": 0, "why": None}
    attempt(False)
    assert guard.skip_reason(dep, req) is None  # a fresh count after the success
    attempt(False, retry_after=math.inf)  # a hostile Retry-After is capped too
    assert guard.info(dep)["cooling_for_s"] == 30


def test_retry_after_starts_a_cooldown_at_once_visible_in_plan_and_no_route_error(
    make_router: Any, primary: StandinServer, secondary: StandinServer, clock: FakeClock,
) -> None:
    router = make_router(retry={"attempts": 1})
    primary.push(Fault.status(429, retry_after=9999))
    assert router.chat(ask()).provider == "secondary"
    assert router.resilience.cooldown.info("primary/m1")["cooling_for_s"] == 300  # capped
    skipped = router.plan(ask()).skipped
    assert [(o.provider, o.skipped) for o in skipped] == [("primary", True)]
    assert "rate-limit cooldown until" in skipped[0].reason
    assert "429 asked to retry after 9999s" in skipped[0].reason
    secondary.push(Fault.status(500))
    with pytest.raises(NoRouteError) as err:
        router.chat(ask())
    assert "primary/m1 skipped: rate-limit cooldown until" in str(err.value)
    assert len(primary.requests) == 1
    clock.advance(301)
    assert router.chat(ask()).provider == "primary"  # cooled down: back in the plan


def test_a_lone_deployment_in_cooldown_is_still_called(
    make_router: Any, primary: StandinServer, clock: FakeClock,
) -> None:
    router = make_router(agents={"bot": {"model": "primary:m1"}})
    primary.push(*[Fault.status(429) for _ in range(3)])
    with pytest.raises(NoRouteError):
        router.chat(ask())  # three 429s: its retries are spent, the cooldown starts
    assert router.resilience.cooldown.info("primary/m1")["cooling_for_s"] == 5
    assert router.plan(ask()).candidates == [Deployment("primary", "m1")]  # kept
    primary.push(Fault.status(429))
    resp = router.chat(ask())  # nothing else can serve it: it keeps its retries
    assert resp.provider == "primary"
    assert [a.action for a in resp.attempts] == ["retried", "answered"]


def test_cooldown_can_be_turned_off(
    openai_pair: tuple[StandinServer, StandinServer], clock: FakeClock,
) -> None:
    bad, good = openai_pair
    with _openai_router(bad, good, clock, retry={"attempts": 1},
                        rate_limits={"cooldown": {"enabled": False}}) as router:
        assert router.resilience.cooldown is None
        for _ in range(5):
            assert router.chat(ask()).provider == "good"
    assert len(bad.requests) == 5  # every call tries it, as before


@pytest.mark.parametrize("bad", [
    {"initial": -1}, {"initial": math.nan}, {"max": math.inf}, {"multiplier": 0.5},
    {"after": 0}, {"bogus": 1},
])
def test_bad_cooldown_config_is_a_config_error_naming_the_field(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as err:
        Router({"rate_limits": {"cooldown": bad}})
    assert "rate_limits.cooldown" in str(err.value)


def test_async_calls_and_a_call_under_way_fall_back_at_the_next_429(
    openai_pair: tuple[StandinServer, StandinServer], clock: FakeClock,
) -> None:
    import asyncio

    bad, good = openai_pair

    async def run() -> list[list[tuple[str, str | None, str]]]:
        trails = []
        async with _openai_router(bad, good, clock) as router:
            for _ in range(3):
                resp = await router.achat(ask())
                trails.append([(a.provider, a.error, a.action) for a in resp.attempts])
                clock.advance(6)  # past the first cooldown (5 s), not the second (10 s)
        return trails

    first, probe, skipped = asyncio.run(run())
    assert [a[0] for a in first] == ["bad", "bad", "bad", "good"]  # retries, then cooldown
    # the cooldown ended: one try, its 429 starts the next cooldown, which ends the retries
    assert probe == [("bad", "RateLimitError", "fell_back"), ("good", None, "answered")]
    assert skipped == [("good", None, "answered")]
    assert len(bad.requests) == 4


def test_routers_sharing_a_store_share_the_cooldown(
    echo_registry: Any, primary: StandinServer, secondary: StandinServer, clock: FakeClock,
) -> None:
    store = MemoryStore()
    config = {
        "providers": {"primary": {"type": "echo", "base_url": primary.url},
                      "secondary": {"type": "echo", "base_url": secondary.url}},
        "agents": {"bot": {"model": "primary:m1", "fallbacks": ["secondary:m2"]}},
        "retry": {"attempts": 1},
    }
    a = Router(config, registry=echo_registry, state=store, clock=clock, sleep=clock.sleep)
    b = Router(config, registry=echo_registry, state=store, clock=clock, sleep=clock.sleep)
    with a, b:
        primary.push(Fault.status(429, retry_after=60))
        assert a.chat(ask()).provider == "secondary"
        assert b.chat(ask()).provider == "secondary"  # the other process skips it too
        assert len(primary.requests) == 1
