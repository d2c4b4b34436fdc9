"""End to end through ``polyroute.router.Router`` against OpenAI stand-ins: the shared
``FallbackPair`` scenarios (a normal answer, plain and streamed; a 429 retried after
its Retry-After; two 500s falling back to the second stand-in; none of them leaving a
reference cycle)."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from polyroute.testing.router_suite import FallbackPair
from polyroute.testing.standin import Responder, StandinServer
from polyroute_openai import plugin
from polyroute_openai.standin import OpenAIResponder

pytestmark = pytest.mark.standin


class TestRouter(FallbackPair):
    plugin: ClassVar[object] = plugin
    model = "gpt-4.1-mini"
    names = ("openai", "backup")
    greeting = "Hello from the OpenAI stand-in: "

    def responder(self) -> Responder:
        return OpenAIResponder()

    def provider_entry(self, name: str, server: StandinServer) -> dict[str, Any]:
        return {"type": "openai", "base_url": f"{server.url}/v1", "api_key": "sk-router-test"}
