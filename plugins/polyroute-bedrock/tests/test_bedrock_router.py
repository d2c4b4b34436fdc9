"""End to end through ``polyroute.router.Router`` against the Bedrock stand-in (SigV4 verified)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from polyroute.testing.routers import router_for, trail
from polyroute.testing.sleeps import SleepRecorder
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints
from polyroute_bedrock import plugin as bedrock_plugin
from polyroute_bedrock.standin import BedrockResponder

pytestmark = pytest.mark.standin
AKID, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
NOVA = "us.amazon.nova-lite-v1:0"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[StandinServer, StandinServer]]:
    responder = BedrockResponder(credentials=(AKID, SECRET))
    with StandinServer(responder) as east, StandinServer(BedrockResponder()) as west:
        yield east, west


@pytest.fixture
def setup(servers: tuple[StandinServer, StandinServer]) -> Iterator[tuple[Any, ...]]:
    east, west = servers
    sleeps = SleepRecorder()
    creds = {"aws_access_key_id": AKID, "aws_secret_access_key": SECRET}
    config: dict[str, Any] = {
        "providers": {
            "east": {"type": "bedrock", "base_url": east.url,
                     "extra": {"region": "us-east-1", **creds}},
            "west": {"type": "bedrock", "base_url": west.url,
                     "api_key": "ABSK-west-key-0123456789", "extra": {"region": "us-west-2"}},
        },
        "agents": {"bot": {"model": f"east:{HAIKU}", "fallbacks": [f"west:{NOVA}"]}},
        "retry": {"attempts": 2, "initial_backoff": 0.1},
        "timeouts": {"read": 2, "total": 20},
    }
    with router_for(config, bedrock_plugin, sleeps=sleeps) as router:
        east.clear()
        west.clear()
        yield router, east, west, sleeps.waits


def ask() -> ChatRequest:
    return ChatRequest(messages=[Message.user("What is 2+2?")], routing=RoutingHints(agent="bot"))


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_normal_answer_with_cost(setup: Any, mode: str) -> None:
    router, east, _, _ = setup
    resp = router.chat(ask()) if mode == "sync" else asyncio.run(router.achat(ask()))
    assert (resp.provider, resp.model) == ("east", HAIKU)
    assert resp.message.text == "Hello from the Bedrock stand-in: What is 2+2?"
    assert trail(resp) == [("east", None, "answered")]
    assert resp.cost_usd is not None and resp.cost_usd > 0  # priced from the catalog
    assert east.responder.auth_failures == []


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_streamed_through_registered_framing(setup: Any, mode: str) -> None:
    router, _, _, _ = setup

    async def collect() -> list[Any]:
        return [c async for c in router.astream(ask())]

    chunks = list(router.stream(ask())) if mode == "sync" else asyncio.run(collect())
    assert "".join(c.text for c in chunks) == "Hello from the Bedrock stand-in: What is 2+2?"
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage is not None


def test_throttling_is_retried(setup: Any) -> None:
    router, east, _, waits = setup
    east.push(Fault.status(429, retry_after=0.5, message="Too many requests"))
    resp = router.chat(ask())
    assert trail(resp) == [("east", "RateLimitError", "retried"), ("east", None, "answered")]
    assert waits and waits[0] >= 0.5


def test_model_not_ready_retried_then_falls_back(setup: Any) -> None:
    router, east, west, _ = setup
    not_ready = Fault.status(429, message="Model is not ready for inference.", headers={
        "x-amzn-errortype": "ModelNotReadyException:http://internal.amazon.com/coral/"})
    east.push(not_ready, not_ready)
    resp = router.chat(ask())
    assert (resp.provider, resp.model) == ("west", NOVA)
    assert trail(resp) == [("east", "OverloadedError", "retried"),
                           ("east", "OverloadedError", "fell_back"), ("west", None, "answered")]
    assert west.requests[-1].headers["authorization"].startswith("Bearer ")


def test_in_stream_exception_before_output_is_retried_then_falls_back(setup: Any) -> None:
    router, east, _, _ = setup
    east.push(Fault.in_band_error(after_chunks=0, message="stream failed"))
    chunks = list(router.stream(ask()))
    assert "".join(c.text for c in chunks).startswith("Hello from the Bedrock stand-in")
    assert trail(chunks[-1]) == [("east", "ServerError", "retried"), ("east", None, "answered")]
    east.push(*[Fault.in_band_error(after_chunks=0, message="stream failed")] * 2)
    chunks = list(router.stream(ask()))
    assert chunks[-1].provider == "west"
    assert trail(chunks[-1])[-1] == ("west", None, "answered")
