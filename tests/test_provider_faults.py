"""The fault matrix on the real wire formats: OpenAI and Anthropic stand-ins, each
as primary with the other as fallback. Asserts who answered and every attempt."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sleep_recorder import SleepRecorder

from polyroute.budgets.guard import CostGuard
from polyroute.cost.wiring import find_guard
from polyroute.errors import NoRouteError, StreamInterruptedError
from polyroute.router import Router
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    GenerationParams,
    Message,
    RoutingHints,
    ToolSpec,
)
from polyroute_anthropic.standin import AnthropicResponder
from polyroute_openai.standin import OpenAIResponder

KEY = "standin-key-0000"


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, StandinServer]]:
    with StandinServer(OpenAIResponder()) as oai, StandinServer(AnthropicResponder()) as ant:
        yield {"openai": oai, "anthropic": ant}


@pytest.fixture(params=["openai", "anthropic"])
def primary(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def setup(
    servers: dict[str, StandinServer], primary: str
) -> Iterator[tuple[Router, StandinServer, StandinServer, SleepRecorder]]:
    secondary = "anthropic" if primary == "openai" else "openai"
    models = {"openai": "gpt-4.1-mini", "anthropic": "claude-haiku-4-5"}
    sleeps = SleepRecorder()
    config: dict[str, Any] = {
        "providers": {
            "openai": {"type": "openai", "base_url": servers["openai"].url + "/v1", "api_key": KEY},
            "anthropic": {"type": "anthropic", "base_url": servers["anthropic"].url,
                          "api_key": KEY},
        },
        "agents": {"bot": {"model": f"{primary}:{models[primary]}",
                           "fallbacks": [f"{secondary}:{models[secondary]}"]}},
        "retry": {"attempts": 2, "initial_backoff": 0.1},
        "timeouts": {"read": 0.5, "total": 20},
    }
    router = Router(config, sleep=sleeps, asleep=sleeps.asleep)
    for s in servers.values():
        s.clear()
    yield router, servers[primary], servers[secondary], sleeps
    router.close()
    for s in servers.values():
        s.clear()


def ask(**kw: Any) -> ChatRequest:
    return ChatRequest(messages=[Message.user("What is 2+2?")], routing=RoutingHints(agent="bot"),
                       **kw)


def trail(r: ChatResponse | ChatChunk) -> list[tuple[str, str | None, str]]:
    return [(a.provider, a.error, a.action) for a in r.attempts]


Setup = tuple[Router, StandinServer, StandinServer, SleepRecorder]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_429_then_success_retries(setup: Setup, primary: str, mode: str) -> None:
    router, first, _, sleeps = setup
    first.push(Fault.status(429, retry_after=0.25))
    resp = router.chat(ask()) if mode == "sync" else asyncio.run(router.achat(ask()))
    assert resp.provider == primary
    assert trail(resp) == [(primary, "RateLimitError", "retried"), (primary, None, "answered")]
    assert sleeps.waits[0] >= 0.25


def test_500_on_primary_tier_two_answers(setup: Setup, primary: str) -> None:
    router, first, second, _ = setup
    first.push(Fault.status(500), Fault.status(500))
    resp = router.chat(ask())
    assert resp.provider != primary and resp.message.text
    assert [a.error for a in resp.attempts] == ["ServerError", "ServerError", None]
    assert resp.attempts[1].action == "fell_back" and len(second.requests) == 1


def test_overloaded_is_retried_then_falls_back(setup: Setup, primary: str) -> None:
    router, first, _, _ = setup
    first.push(Fault.status(529), Fault.status(529))
    resp = router.chat(ask())
    assert resp.provider != primary
    assert [a.error for a in resp.attempts[:2]] == ["OverloadedError", "OverloadedError"]


def test_401_no_retry_falls_back(setup: Setup, primary: str) -> None:
    router, first, _, sleeps = setup
    first.push(Fault.status(401))
    resp = router.chat(ask())
    assert trail(resp)[0] == (primary, "AuthenticationError", "fell_back")
    assert len(resp.attempts) == 2 and sleeps.waits == []
    assert len(first.requests) == 1


def test_timeout_falls_back(setup: Setup, primary: str) -> None:
    router, first, _, _ = setup
    first.push(Fault.hang(1.5), Fault.hang(1.5))
    resp = router.chat(ask())
    assert resp.provider != primary
    assert [a.error for a in resp.attempts[:2]] == ["ProviderTimeoutError"] * 2


def test_malformed_body_typed_error_then_fallback(setup: Setup, primary: str) -> None:
    router, first, _, _ = setup
    first.push(Fault.malformed())
    resp = router.chat(ask())
    assert trail(resp)[0] == (primary, "InvalidResponseError", "fell_back")
    assert resp.provider != primary


@pytest.mark.parametrize(
    "fault", [Fault.status(500), Fault.cut_stream(0), Fault.in_band_error(0)],
    ids=["500", "cut", "in-band-error"],
)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_failure_before_first_stream_chunk_falls_back(
    setup: Setup, primary: str, fault: Fault, mode: str
) -> None:
    router, first, _, _ = setup
    first.push(fault, fault)

    async def collect() -> list[ChatChunk]:
        return [c async for c in router.astream(ask())]

    chunks = list(router.stream(ask())) if mode == "sync" else asyncio.run(collect())
    last = chunks[-1]
    assert last.provider != primary and "".join(c.text for c in chunks)
    assert last.usage is not None and last.usage.output_tokens > 0
    assert trail(last)[-1][2] == "answered" and trail(last)[0][0] == primary


def test_stream_cut_mid_way_raises(setup: Setup, primary: str) -> None:
    router, first, second, _ = setup
    # past the preamble events (OpenAI: role chunk; Anthropic: message_start,
    # content_block_start, ping) and into the text
    first.push(Fault.cut_stream(3 if primary == "openai" else 5))
    received = ""
    with pytest.raises(StreamInterruptedError) as info:
        for chunk in router.stream(ask()):
            received += chunk.text
    assert received and info.value.provider == primary and len(second.requests) == 0


def test_tool_call_round_trip_on_each_format(setup: Setup, primary: str) -> None:
    router, _, _, _ = setup
    tool = ToolSpec(name="add", description="Add two integers",
                    parameters={"type": "object", "properties": {"a": {"type": "integer"},
                                "b": {"type": "integer"}}, "required": ["a", "b"]})
    resp = router.chat(ask(tools=[tool], tool_choice="required"))
    calls = resp.message.tool_calls
    assert resp.provider == primary and resp.finish_reason == "tool_calls"
    assert calls and calls[0].name == "add" and set(calls[0].arguments) == {"a", "b"}
    streamed = list(router.stream(ask(tools=[tool], tool_choice="required")))
    args = "".join(d.arguments for c in streamed for d in c.tool_calls)
    assert '"a"' in args and streamed[-1].finish_reason == "tool_calls"


def test_both_failing_lists_both(setup: Setup, primary: str) -> None:
    router, first, second, _ = setup
    first.push(Fault.status(401))
    second.push(Fault.status(404))
    with pytest.raises(NoRouteError) as info:
        router.chat(ask())
    assert [o.error.status for o in info.value.outcomes if o.error] == [401, 404]


# --- nonsensical usage (issue 9 item 1) ----------------------------------------------

class NegativeUsageResponder(OpenAIResponder):
    """An OpenAI stand-in whose usage says a million tokens were given back."""

    def _usage(self, body: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        return {**super()._usage(body, result), "completion_tokens": -1_000_000}


def budget_spent(router: Router, scope: str) -> float:
    guard = find_guard(router, CostGuard)
    assert isinstance(guard, CostGuard)
    b = next(b for b in guard.budgets if b.cfg.scope == scope)
    return float(router.state.get(b.key(b.window())) or 0.0)


@pytest.mark.parametrize("mode", ["chat", "stream"])
def test_negative_usage_is_refused_falls_back_and_never_credits_the_budget(mode: str) -> None:
    # $10/MTok and a $0.01/day budget: -1,000,000 output tokens would price at about
    # -$10 and let ~2,000 calls through a budget that allows a handful.
    price = {"input": 10.0, "output": 10.0}
    with StandinServer(NegativeUsageResponder()) as bad, StandinServer(OpenAIResponder()) as good:
        router = Router({
            "providers": {
                "liar": {"type": "openai", "base_url": bad.url + "/v1", "api_key": KEY},
                "backup": {"type": "openai", "base_url": good.url + "/v1", "api_key": KEY},
            },
            "agents": {"bot": {"model": "liar:gpt-4.1-mini", "fallbacks": ["backup:gpt-4.1-mini"]}},
            "pricing": {"overrides": {"liar:gpt-4.1-mini": price, "backup:gpt-4.1-mini": price}},
            "retry": {"attempts": 1},
            "budgets": [{"scope": "global", "usd": 0.01, "per": "day", "on_exceed": "block"}],
            # the bad usage chunk comes after the text: fall back mid-stream too
            "streaming": {"on_failure": "continue"},
        })
        try:
            before = budget_spent(router, "global")
            small = GenerationParams(max_tokens=16)  # reservations fit the budget
            if mode == "chat":
                answer: ChatResponse | ChatChunk = router.chat(ask(params=small))
            else:
                chunks = list(router.stream(ask(stream=True, params=small)))
                answer = chunks[-1]
                assert "".join(c.text for c in chunks).strip()
            after = budget_spent(router, "global")
        finally:
            router.close()
    failed = next(a for a in answer.attempts if not a.ok)
    # mid-stream it is the InvalidResponseError subclass StreamInterruptedError
    assert (failed.provider, failed.model) == ("liar", "gpt-4.1-mini"), answer.attempts
    assert failed.error == ("InvalidResponseError" if mode == "chat" else "StreamInterruptedError")
    assert failed.message and "completion_tokens" in failed.message and "-1000000" in failed.message
    assert answer.provider == "backup" and answer.attempts[-1].ok
    assert answer.usage is not None and answer.usage.output_tokens >= 0
    cost = answer.cost_usd
    assert cost is not None and cost >= 0
    assert after > before >= 0  # the counter never goes down: the fallback was charged
