"""Pass-through parameters scoped to one provider (``"anthropic:thinking"``): each
provider of a fallback chain gets its own options and none of the others'."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from polyroute.params import scoped_extra
from polyroute.router import Router
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints
from polyroute_anthropic.standin import AnthropicResponder
from polyroute_openai.standin import OpenAIResponder

pytestmark = pytest.mark.standin

THINKING = {"type": "enabled", "budget_tokens": 1024}


@pytest.fixture
def servers() -> Iterator[tuple[StandinServer, StandinServer]]:
    with StandinServer(AnthropicResponder()) as ant, StandinServer(OpenAIResponder()) as oai:
        yield ant, oai


def router_for(ant: StandinServer, oai: StandinServer) -> Router:
    return Router({
        "providers": {
            "claude": {"type": "anthropic", "base_url": ant.url, "api_key": "sk-ant-x"},
            "gpt": {"type": "openai", "base_url": oai.url + "/v1", "api_key": "sk-x"},
        },
        "agents": {"thinker": {
            "model": "claude:claude-sonnet-4-5", "fallbacks": ["gpt:gpt-4.1-mini"],
            "params": {"anthropic:thinking": THINKING, "openai:reasoning_effort": "low",
                       "gpt:reasoning_effort": "medium", "metadata": {"run": "r1"}},
        }},
        "retry": {"attempts": 1},
    })


def test_each_provider_of_the_chain_gets_its_own_params(
    servers: tuple[StandinServer, StandinServer]
) -> None:
    ant, oai = servers
    ant.push(Fault.status(500))  # Claude fails: the call falls back to GPT
    with router_for(ant, oai) as router:
        resp = router.chat(ChatRequest(messages=[Message.user("hi")],
                                       routing=RoutingHints(agent="thinker")))
    assert resp.provider == "gpt"
    sent_ant: dict[str, Any] = json.loads(ant.requests[0].body)
    sent_oai: dict[str, Any] = json.loads(oai.requests[0].body)
    assert sent_ant["thinking"] == THINKING and "reasoning_effort" not in sent_ant
    # the instance name ("gpt:") is more specific than the type ("openai:")
    assert sent_oai["reasoning_effort"] == "medium" and "thinking" not in sent_oai
    assert sent_ant["metadata"] == sent_oai["metadata"] == {"run": "r1"}  # unscoped: both
    assert not any(":" in key for key in (*sent_ant, *sent_oai))


def test_scoped_key_wins_over_unscoped(servers: tuple[StandinServer, StandinServer]) -> None:
    ant, oai = servers
    with router_for(ant, oai) as router:
        claude = router.provider("claude")
        assert claude is not None
        assert scoped_extra({"top": 1, "anthropic:top": 2, "openai:x": 3}, claude) == {"top": 2}
        assert scoped_extra({"plain": 1}, claude) is None  # nothing scoped: left as it is
