"""End to end through ``polyroute.router.Router`` against Cohere stand-ins.

One normal answer (plain and streamed), one 429 retried after its
``retry-after``, one fallback to a second stand-in, and a streamed tool call.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from polyroute.router import Router
from polyroute.testing.routers import router_for
from polyroute.testing.sleeps import SleepRecorder
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints, ToolSpec
from polyroute_cohere import plugin
from polyroute_cohere.standin import CohereResponder

pytestmark = pytest.mark.standin

KEY = "co-router-key-0000000000000"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[StandinServer, StandinServer]]:
    with StandinServer(CohereResponder()) as main, StandinServer(CohereResponder()) as backup:
        yield main, backup


Setup = tuple[Router, StandinServer, StandinServer, SleepRecorder]


@pytest.fixture
def setup(servers: tuple[StandinServer, StandinServer]) -> Iterator[Setup]:
    main, backup = servers
    for s in servers:
        s.clear()
    sleeps = SleepRecorder()
    config: dict[str, Any] = {
        "providers": {
            "cohere": {"type": "cohere", "base_url": main.url, "api_key": KEY},
            "cohere_eu": {"type": "cohere", "base_url": backup.url, "api_key": KEY},
        },
        "agents": {"bot": {"model": "cohere:command-a-03-2025",
                           "fallbacks": ["cohere_eu:command-a-03-2025"]}},
        "retry": {"attempts": 2, "initial_backoff": 0.1},
        "timeouts": {"read": 2, "total": 20},
    }
    with router_for(config, plugin, sleeps=sleeps) as router:
        yield router, main, backup, sleeps


def ask(*messages: Message, **kw: Any) -> ChatRequest:
    return ChatRequest(messages=list(messages) or [Message.user("What is 2+2?")],
                       routing=RoutingHints(agent="bot"), **kw)


def test_normal_answer(setup: Setup) -> None:
    router, main, backup, _ = setup
    resp = router.chat(ask())
    assert (resp.provider, resp.model) == ("cohere", "command-a-03-2025")
    assert resp.message.text == "Hello from the Cohere stand-in: What is 2+2?"
    assert [(a.provider, a.action) for a in resp.attempts] == [("cohere", "answered")]
    chunks = list(router.stream(ask()))
    assert "".join(c.text for c in chunks) == "Hello from the Cohere stand-in: What is 2+2?"
    assert chunks[-1].usage is not None and chunks[-1].usage.output_tokens > 0
    assert len(main.requests) == 2 and not backup.requests


def test_429_is_retried(setup: Setup) -> None:
    router, main, _, sleeps = setup
    main.push(Fault.status(429, retry_after=0.25))
    resp = router.chat(ask())
    assert resp.provider == "cohere"
    assert [(a.error, a.action) for a in resp.attempts] == [
        ("RateLimitError", "retried"), (None, "answered")]
    assert sleeps.waits and sleeps.waits[0] >= 0.25


def test_falls_back_to_the_other_standin(setup: Setup) -> None:
    router, main, backup, _ = setup
    main.push(Fault.status(500), Fault.status(500))
    resp = router.chat(ask())
    assert resp.provider == "cohere_eu"
    assert [a.error for a in resp.attempts] == ["ServerError", "ServerError", None]
    assert resp.attempts[1].action == "fell_back" and len(backup.requests) == 1


async def test_streamed_tool_call_through_router(setup: Setup) -> None:
    router, *_ = setup
    tool = ToolSpec(name="lookup", parameters={"type": "object",
                                               "properties": {"q": {"type": "string"}}})
    chunks = [c async for c in router.astream(ask(Message.user("Look it up"), tools=[tool]))]
    deltas = [d for c in chunks for d in c.tool_calls]
    assert deltas and deltas[0].name == "lookup"
    assert chunks[-1].finish_reason == "tool_calls"
    assert chunks[-1].usage is not None and chunks[-1].usage.input_tokens > 0
