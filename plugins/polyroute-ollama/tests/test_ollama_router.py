"""End to end through ``polyroute.router.Router`` against Ollama stand-ins."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from polyroute.testing.router_suite import FallbackPair, PairSetup
from polyroute.testing.routers import trail
from polyroute.testing.standin import Fault, Responder, StandinServer
from polyroute.types import ToolSpec
from polyroute_ollama import plugin as ollama_plugin
from polyroute_ollama.standin import OllamaResponder

pytestmark = pytest.mark.standin


class TestRouter(FallbackPair):
    plugin = ollama_plugin
    model = "llama3.2"
    backup_model = "qwen3:8b"
    names = ("gpu", "laptop")
    greeting = "Hello from the Ollama stand-in: "
    min_retry_wait = 0.5

    def responder(self) -> Responder:
        return OllamaResponder()

    def provider_entry(self, name: str, server: StandinServer) -> dict[str, Any]:
        # the laptop's URL without a scheme: Ollama's OLLAMA_HOST form
        url = server.url if name == "gpu" else server.url.removeprefix("http://")
        return {"type": "ollama", "base_url": url}

    @pytest.mark.parametrize("mode", ["sync", "async"])
    def test_local_answer_is_free(self, setup: PairSetup, mode: str) -> None:
        router = setup.router
        resp = router.chat(self.ask()) if mode == "sync" else asyncio.run(router.achat(self.ask()))
        assert trail(resp) == [("gpu", None, "answered")]
        assert resp.cost_usd in (0.0, None)  # local models are free
        assert setup.main.requests[-1].path == "/api/chat"

    def test_model_not_found_falls_back(self, setup: PairSetup) -> None:
        setup.main.push(Fault.status(
            404, message="model \"llama3.2\" not found, try pulling it first"))
        resp = setup.router.chat(self.ask())
        assert (resp.provider, resp.model) == ("laptop", "qwen3:8b")
        assert trail(resp) == [("gpu", "NotFoundError", "fell_back"),
                               ("laptop", None, "answered")]
        assert setup.backup.requests[-1].json()["model"] == "qwen3:8b"

    def test_server_down_twice_falls_back_for_tools(self, setup: PairSetup) -> None:
        setup.main.push(Fault.status(500), Fault.status(500))
        tool = ToolSpec(name="add", parameters={"type": "object", "properties": {
            "a": {"type": "integer"}, "b": {"type": "integer"}}})
        resp = setup.router.chat(self.ask(tools=[tool]))
        assert resp.provider == "laptop"
        assert [t.name for t in resp.message.tool_calls] == ["add"]
        assert trail(resp)[-1] == ("laptop", None, "answered")
