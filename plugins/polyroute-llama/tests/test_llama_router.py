"""End to end through ``polyroute.router.Router`` against Llama API stand-ins: a normal
answer (plain and streamed), a 429 retried after its ``retry-after``, and a fallback to
a second stand-in (``polyroute.testing.router_suite.FallbackPair``)."""

from __future__ import annotations

from typing import Any

import pytest

from polyroute.testing.router_suite import FallbackPair
from polyroute.testing.standin import Responder, StandinServer
from polyroute_llama import plugin
from polyroute_llama.standin import LlamaResponder

pytestmark = pytest.mark.standin


class TestRouter(FallbackPair):
    plugin = plugin
    model = "Llama-3.3-70B-Instruct"
    names = ("meta", "meta_backup")
    greeting = "Hello from the Llama API stand-in: "

    def responder(self) -> Responder:
        return LlamaResponder()

    def provider_entry(self, name: str, server: StandinServer) -> dict[str, Any]:
        return {"type": "llama", "base_url": server.url + "/v1",
                "api_key": "LLM|router-key-0000000000"}
