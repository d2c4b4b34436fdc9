"""Fault scenarios against loopback stand-ins: who answered, and every attempt recorded.

Each scenario runs sync and async. The provider here is the test suite's echo
plugin; tests/test_provider_faults.py runs the same faults on the OpenAI and
Anthropic wire formats.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sleep_recorder import SleepRecorder

from polyroute.errors import (
    ContentPolicyError,
    NoRouteError,
    StreamInterruptedError,
)
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import ChatChunk, ChatRequest, ChatResponse, Message, RoutingHints

MODES = ["sync", "async"]
_open: list[Router] = []


@pytest.fixture(autouse=True)
def _close_routers() -> Iterator[None]:
    yield
    while _open:
        _open.pop().close()


def make_router(
    registry: PluginRegistry, a: StandinServer, b: StandinServer, sleeps: SleepRecorder,
    **overrides: Any,
) -> Router:
    config: dict[str, Any] = {
        "providers": {
            "primary": {"type": "echo", "base_url": a.url},
            "secondary": {"type": "echo", "base_url": b.url},
        },
        "routes": {"qa": {"tiers": [["primary/m1"], ["secondary/m2"]]}},
        "agents": {"bot": {"route": "qa"}},
        "retry": {"attempts": 3, "initial_backoff": 0.5, "max_backoff": 4},
        "timeouts": {"connect": 2, "read": 2, "total": 30},
    }
    config.update(overrides)
    router = Router(config, registry=registry, sleep=sleeps, asleep=sleeps.asleep)
    _open.append(router)
    return router


def ask(text: str = "hello") -> ChatRequest:
    return ChatRequest(messages=[Message.user(text)], routing=RoutingHints(agent="bot"))


def chat(router: Router, mode: str, request: ChatRequest | None = None) -> ChatResponse:
    request = request or ask()
    if mode == "sync":
        return router.chat(request)
    return asyncio.run(router.achat(request))


def stream(router: Router, mode: str, request: ChatRequest | None = None) -> list[ChatChunk]:
    request = request or ask()
    if mode == "sync":
        return list(router.stream(request))

    async def collect() -> list[ChatChunk]:
        return [c async for c in router.astream(request)]

    return asyncio.run(collect())


def trail(resp: ChatResponse | ChatChunk) -> list[tuple[str, str | None, str]]:
    return [(a.provider, a.error, a.action) for a in resp.attempts]


@pytest.fixture
def router(echo_registry, primary, secondary, sleeps) -> Router:  # type: ignore[no-untyped-def]
    return make_router(echo_registry, primary, secondary, sleeps)


@pytest.mark.parametrize("mode", MODES)
def test_healthy_primary_answers_with_one_attempt(router: Router, mode: str) -> None:
    resp = chat(router, mode)
    assert (resp.provider, resp.model) == ("primary", "m1")
    assert resp.message.text == "primary says: hello"
    assert trail(resp) == [("primary", None, "answered")]
    assert resp.latency_ms > 0 and resp.usage.output_tokens == 3


@pytest.mark.parametrize("mode", MODES)
def test_429_then_success_is_retried_on_the_same_deployment(
    router: Router, primary: StandinServer, sleeps: SleepRecorder, mode: str
) -> None:
    primary.push(Fault.status(429, retry_after=1.5))
    resp = chat(router, mode)
    assert resp.provider == "primary"
    assert trail(resp) == [("primary", "RateLimitError", "retried"), ("primary", None, "answered")]
    assert resp.attempts[0].status == 429
    assert sleeps.waits and sleeps.waits[0] >= 1.5  # never less than Retry-After


@pytest.mark.parametrize("mode", MODES)
def test_retry_after_longer_than_policy_falls_back_without_sleeping(
    router: Router, primary: StandinServer, sleeps: SleepRecorder, mode: str
) -> None:
    primary.push(Fault.status(429, retry_after=3600))
    resp = chat(router, mode)
    assert resp.provider == "secondary"
    assert trail(resp) == [
        ("primary", "RateLimitError", "fell_back"), ("secondary", None, "answered")
    ]
    assert sleeps.waits == []


@pytest.mark.parametrize("mode", MODES)
def test_500s_on_primary_exhaust_retries_then_tier_two_answers(
    router: Router, primary: StandinServer, sleeps: SleepRecorder, mode: str
) -> None:
    primary.push(*[Fault.status(500)] * 3)
    resp = chat(router, mode)
    assert resp.provider == "secondary" and resp.message.text.startswith("secondary says")
    assert trail(resp) == [
        ("primary", "ServerError", "retried"),
        ("primary", "ServerError", "retried"),
        ("primary", "ServerError", "fell_back"),
        ("secondary", None, "answered"),
    ]
    assert len(sleeps.waits) == 2 and all(0 <= w <= 4 for w in sleeps.waits)


@pytest.mark.parametrize("mode", MODES)
def test_401_is_not_retried_and_falls_back(
    router: Router, primary: StandinServer, sleeps: SleepRecorder, mode: str
) -> None:
    primary.push(Fault.status(401))
    resp = chat(router, mode)
    assert resp.provider == "secondary"
    assert trail(resp) == [
        ("primary", "AuthenticationError", "fell_back"), ("secondary", None, "answered")
    ]
    assert sleeps.waits == []


@pytest.mark.parametrize("mode", MODES)
def test_timeout_is_typed_and_falls_back(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    sleeps: SleepRecorder, mode: str,
) -> None:
    router = make_router(
        echo_registry, primary, secondary, sleeps,
        retry={"attempts": 1}, timeouts={"read": 0.3, "total": 10},
    )
    primary.push(Fault.hang(2))
    resp = chat(router, mode)
    assert resp.provider == "secondary"
    assert trail(resp) == [
        ("primary", "ProviderTimeoutError", "fell_back"), ("secondary", None, "answered")
    ]


@pytest.mark.parametrize("mode", MODES)
def test_malformed_body_is_a_typed_error_then_fallback(
    router: Router, primary: StandinServer, mode: str
) -> None:
    primary.push(Fault.malformed())
    resp = chat(router, mode)
    assert resp.provider == "secondary"
    assert trail(resp)[0] == ("primary", "InvalidResponseError", "fell_back")


@pytest.mark.parametrize("mode", MODES)
def test_connection_reset_is_retried(
    router: Router, primary: StandinServer, mode: str
) -> None:
    primary.push(Fault.reset())
    resp = chat(router, mode)
    assert resp.provider == "primary"
    assert trail(resp)[0] == ("primary", "ProviderConnectionError", "retried")


@pytest.mark.parametrize("mode", MODES)
def test_every_candidate_failing_raises_no_route_error_with_reasons(
    router: Router, primary: StandinServer, secondary: StandinServer, mode: str
) -> None:
    primary.push(Fault.status(401))
    secondary.push(Fault.status(404))
    with pytest.raises(NoRouteError) as info:
        chat(router, mode)
    err = info.value
    assert [(o.provider, o.skipped) for o in err.outcomes] == [
        ("primary", False), ("secondary", False)
    ]
    text = str(err)
    assert "primary/m1 failed: AuthenticationError" in text
    assert "secondary/m2 failed: NotFoundError" in text
    last = err.last_error
    assert last is not None and last.status == 404 and last.action == "gave up"


@pytest.mark.parametrize("mode", MODES)
def test_content_policy_refusal_does_not_fall_back(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    sleeps: SleepRecorder, mode: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import echo_provider

    def refuse(self, response, model):  # type: ignore[no-untyped-def]
        return ContentPolicyError("refused", provider=self.name, model=model, status=400)

    monkeypatch.setattr(echo_provider.EchoProvider, "parse_error", refuse)
    router = make_router(echo_registry, primary, secondary, sleeps)
    primary.push(Fault.status(400))
    with pytest.raises(ContentPolicyError) as info:
        chat(router, mode)
    assert "do not fall back" in str(info.value)
    assert len(secondary.requests) == 0


@pytest.mark.parametrize("mode", MODES)
def test_total_timeout_bounds_the_whole_call(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    sleeps: SleepRecorder, mode: str,
) -> None:
    router = make_router(
        echo_registry, primary, secondary, sleeps,
        retry={"attempts": 1}, timeouts={"read": 5, "total": 0.4},
    )
    primary.push(Fault.hang(2))
    with pytest.raises(NoRouteError) as info:
        chat(router, mode)
    errors = [o.error for o in info.value.outcomes]
    assert all(type(e).__name__ == "ProviderTimeoutError" for e in errors)


# --- streaming ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_stream_final_chunk_carries_usage_finish_and_attempts(router: Router, mode: str) -> None:
    chunks = stream(router, mode)
    assert "".join(c.text for c in chunks).strip() == "primary says: hello"
    assert all(c.provider == "primary" for c in chunks)
    last = chunks[-1]
    assert last.finish_reason == "stop" and last.usage is not None
    assert last.usage.output_tokens == 3
    assert [c.usage for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert trail(last) == [("primary", None, "answered")]


@pytest.mark.parametrize(
    "fault",
    [Fault.status(500), Fault.cut_stream(0), Fault.in_band_error(0), Fault.truncate_stream(0)],
    ids=["500", "cut-before-first-chunk", "in-band-error-first", "ends-without-content"],
)
@pytest.mark.parametrize("mode", MODES)
def test_stream_failure_before_first_chunk_falls_back(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    sleeps: SleepRecorder, mode: str, fault: Fault,
) -> None:
    router = make_router(echo_registry, primary, secondary, sleeps, retry={"attempts": 1})
    primary.push(fault)
    chunks = stream(router, mode)
    assert "".join(c.text for c in chunks).startswith("secondary says")
    assert trail(chunks[-1])[0][0] == "primary"
    assert trail(chunks[-1])[0][2] == "fell_back"
    assert trail(chunks[-1])[-1] == ("secondary", None, "answered")


@pytest.mark.parametrize(
    "fault", [Fault.cut_stream(2), Fault.in_band_error(2), Fault.truncate_stream(2)],
    ids=["connection-cut", "in-band-error", "no-terminal-event"],
)
@pytest.mark.parametrize("mode", MODES)
def test_stream_cut_mid_way_never_ends_as_success(
    router: Router, primary: StandinServer, secondary: StandinServer, mode: str, fault: Fault
) -> None:
    primary.push(fault)
    received: list[str] = []

    async def consume_async() -> None:
        async for c in router.astream(ask()):
            received.append(c.text)

    with pytest.raises(StreamInterruptedError) as info:
        if mode == "sync":
            for c in router.stream(ask()):
                received.append(c.text)
        else:
            asyncio.run(consume_async())
    assert received[:2] == ["primary ", "says: "]
    assert "mid-stream" in str(info.value)
    assert len(secondary.requests) == 0
