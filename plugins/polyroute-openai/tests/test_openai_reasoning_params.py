"""OpenAI's reasoning models (o-series, GPT-5) answer 400 "Unsupported parameter"
to temperature, top_p and the penalties: the params policy handles them per model.

Reference: https://platform.openai.com/docs/guides/reasoning (reasoning models take
``reasoning_effort``, not sampling controls).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from polyroute.plugins.manager import PluginRegistry
from polyroute.router import Router
from polyroute.testing.standin import StandinServer
from polyroute.types import ChatRequest, GenerationParams, Message, RoutingHints
from polyroute_openai import plugin
from polyroute_openai.standin import OpenAIResponder

pytestmark = pytest.mark.standin


@pytest.fixture
def server() -> Iterator[StandinServer]:
    with StandinServer(OpenAIResponder()) as s:
        yield s


def router_for(server: StandinServer, policy: str = "warn", **provider: Any) -> Router:
    return Router({
        "providers": {"openai": {"type": "openai", "base_url": server.url + "/v1",
                                 "api_key": "sk-test", **provider}},
        "agents": {"thinker": {"model": "openai:o4-mini", "fallbacks": ["openai:gpt-4.1-mini"],
                               "temperature": 0.2, "top_p": 0.9, "seed": 7}},
        "params_policy": policy, "retry": {"attempts": 1},
    }, registry=PluginRegistry.create(load_entrypoints=False, plugins=[plugin]))


def ask(model: str | None = None) -> ChatRequest:
    return ChatRequest(messages=[Message.user("hi")], params=GenerationParams(max_tokens=50),
                       routing=RoutingHints(agent="thinker", model=model))


def sent(server: StandinServer) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(server.requests[-1].body)
    return body


def test_warn_drops_sampling_controls_for_reasoning_models_only(
    server: StandinServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="polyroute.params")
    with router_for(server) as router:
        resp = router.chat(ask())
        assert resp.model == "o4-mini"
        body = sent(server)
        assert "temperature" not in body and "top_p" not in body
        assert body["seed"] == 7 and body["max_completion_tokens"] == 50
        assert resp.provider_metadata["polyroute_dropped_params"] == ["temperature", "top_p"]
        router.chat(ask("openai:gpt-4.1-mini"))
        assert sent(server)["temperature"] == 0.2  # a chat model keeps them
    assert any("cannot take temperature, top_p for model o4-mini" in r.getMessage()
               for r in caplog.records)


def test_refuse_skips_the_reasoning_model_with_the_reason(server: StandinServer) -> None:
    with router_for(server, "refuse") as router:
        plan = router.plan(ask())
        assert [d.model for d in plan.candidates] == ["gpt-4.1-mini"]
        assert plan.skipped[0].reason == (
            "cannot take parameter temperature, top_p (openai model o4-mini does not "
            "support it; params_policy: refuse)")
        assert router.chat(ask()).model == "gpt-4.1-mini"


def test_a_declared_supported_params_list_wins(server: StandinServer) -> None:
    with router_for(server, extra={"supported_params": ["temperature", "top_p", "seed",
                                                          "max_tokens"]}) as router:
        router.chat(ask())
    assert sent(server)["temperature"] == 0.2
