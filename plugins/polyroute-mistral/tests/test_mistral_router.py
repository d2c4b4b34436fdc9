"""End to end through ``polyroute.router.Router`` against Mistral stand-ins.

One normal answer (plain and streamed), one 429 retried after its
``retry-after``, one fallback to a second stand-in, and a tool-calling turn
whose history carries a foreign tool-call id.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from polyroute.router import Router
from polyroute.testing.routers import router_for
from polyroute.testing.sleeps import SleepRecorder
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import (
    ChatRequest,
    Message,
    RoutingHints,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from polyroute_mistral import plugin
from polyroute_mistral.standin import MistralResponder

pytestmark = pytest.mark.standin

KEY = "mistral-router-key-000000000000"


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[StandinServer, StandinServer]]:
    with StandinServer(MistralResponder()) as main, StandinServer(MistralResponder()) as backup:
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
            "mistral": {"type": "mistral", "base_url": main.url + "/v1", "api_key": KEY},
            "mistral_eu": {"type": "mistral", "base_url": backup.url + "/v1", "api_key": KEY},
        },
        "agents": {"bot": {"model": "mistral:mistral-small-latest",
                           "fallbacks": ["mistral_eu:mistral-small-latest"]}},
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
    assert (resp.provider, resp.model) == ("mistral", "mistral-small-latest")
    assert resp.message.text == "Hello from the Mistral stand-in: What is 2+2?"
    assert [(a.provider, a.action) for a in resp.attempts] == [("mistral", "answered")]
    chunks = list(router.stream(ask()))
    assert "".join(c.text for c in chunks) == "Hello from the Mistral stand-in: What is 2+2?"
    assert chunks[-1].usage is not None and chunks[-1].usage.output_tokens > 0
    assert len(main.requests) == 2 and not backup.requests


def test_429_is_retried(setup: Setup) -> None:
    router, main, _, sleeps = setup
    main.push(Fault.status(429, retry_after=0.25))
    resp = router.chat(ask())
    assert resp.provider == "mistral"
    assert [(a.error, a.action) for a in resp.attempts] == [
        ("RateLimitError", "retried"), (None, "answered")]
    assert sleeps.waits and sleeps.waits[0] >= 0.25


def test_falls_back_to_the_other_standin(setup: Setup) -> None:
    router, main, backup, _ = setup
    main.push(Fault.status(500), Fault.status(500))
    resp = router.chat(ask())
    assert resp.provider == "mistral_eu"
    assert [a.error for a in resp.attempts] == ["ServerError", "ServerError", None]
    assert resp.attempts[1].action == "fell_back" and len(backup.requests) == 1


async def test_tool_turn_with_foreign_ids(setup: Setup) -> None:
    router, main, _, _ = setup
    tool = ToolSpec(name="lookup", parameters={"type": "object",
                                               "properties": {"q": {"type": "string"}}})
    resp = await router.achat(ask(
        Message.user("Look it up"),
        Message(role="assistant", content=[ToolCallPart(id="toolu_01A09q90qw90lq917835lq9",
                                                        name="lookup", arguments={"q": "x"})]),
        Message(role="tool", content=[ToolResultPart(tool_call_id="toolu_01A09q90qw90lq917835lq9",
                                                     content="found")]),
        tools=[tool]))
    assert resp.message.text == "The tool returned: found"
    sent = main.requests[-1].json()["messages"]
    assert sent[1]["tool_calls"][0]["id"] == sent[2]["tool_call_id"]
    assert len(sent[2]["tool_call_id"]) == 9
