"""End to end through ``polyroute.router.Router`` against Ollama stand-ins."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from polyroute.router import Router
from polyroute.testing.routers import router_for, trail
from polyroute.testing.sleeps import SleepRecorder
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints, ToolSpec
from polyroute_ollama import plugin as ollama_plugin
from polyroute_ollama.standin import OllamaResponder

pytestmark = pytest.mark.standin


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[StandinServer, StandinServer]]:
    with StandinServer(OllamaResponder()) as a, StandinServer(OllamaResponder()) as b:
        yield a, b


@pytest.fixture
def setup(servers: tuple[StandinServer, StandinServer]) -> Iterator[
        tuple[Router, StandinServer, StandinServer, list[float]]]:
    a, b = servers
    sleeps = SleepRecorder()
    config: dict[str, Any] = {
        "providers": {
            "gpu": {"type": "ollama", "base_url": a.url},
            "laptop": {"type": "ollama", "base_url": b.url.removeprefix("http://")},
        },
        "agents": {"bot": {"model": "gpu:llama3.2", "fallbacks": ["laptop:qwen3:8b"]}},
        "retry": {"attempts": 2, "initial_backoff": 0.1},
        "timeouts": {"read": 2, "total": 20},
    }
    with router_for(config, ollama_plugin, sleeps=sleeps) as router:
        a.clear()
        b.clear()
        yield router, a, b, sleeps.waits


def ask(**kw: Any) -> ChatRequest:
    return ChatRequest(messages=[Message.user("What is 2+2?")],
                       routing=RoutingHints(agent="bot"), **kw)


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_normal_answer(setup: Any, mode: str) -> None:
    router, a, _, _ = setup
    resp = router.chat(ask()) if mode == "sync" else asyncio.run(router.achat(ask()))
    assert (resp.provider, resp.model) == ("gpu", "llama3.2")
    assert resp.message.text == "Hello from the Ollama stand-in: What is 2+2?"
    assert trail(resp) == [("gpu", None, "answered")]
    assert resp.cost_usd in (0.0, None)  # local models are free
    assert a.requests[-1].path == "/api/chat"


def test_streamed_answer(setup: Any) -> None:
    router, _, _, _ = setup
    chunks = list(router.stream(ask()))
    assert "".join(c.text for c in chunks) == "Hello from the Ollama stand-in: What is 2+2?"
    assert chunks[-1].finish_reason == "stop" and chunks[-1].provider == "gpu"


def test_429_is_retried(setup: Any) -> None:
    router, a, _, waits = setup
    a.push(Fault.status(429, retry_after=0.5))
    resp = router.chat(ask())
    assert resp.provider == "gpu"
    assert trail(resp) == [("gpu", "RateLimitError", "retried"), ("gpu", None, "answered")]
    assert waits and waits[0] >= 0.5


def test_model_not_found_falls_back(setup: Any) -> None:
    router, a, b, _ = setup
    a.push(Fault.status(404, message="model \"llama3.2\" not found, try pulling it first"))
    resp = router.chat(ask())
    assert (resp.provider, resp.model) == ("laptop", "qwen3:8b")
    assert trail(resp) == [("gpu", "NotFoundError", "fell_back"), ("laptop", None, "answered")]
    assert b.requests[-1].json()["model"] == "qwen3:8b"


def test_server_down_twice_falls_back_for_tools(setup: Any) -> None:
    router, a, _, _ = setup
    a.push(Fault.status(500), Fault.status(500))
    tool = ToolSpec(name="add", parameters={"type": "object", "properties": {
        "a": {"type": "integer"}, "b": {"type": "integer"}}})
    resp = router.chat(ask(tools=[tool]))
    assert resp.provider == "laptop"
    assert [t.name for t in resp.message.tool_calls] == ["add"]
    assert trail(resp)[-1] == ("laptop", None, "answered")
