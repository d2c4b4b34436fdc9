"""End to end through ``polyroute.router.Router`` against Anthropic stand-ins: the
shared ``FallbackPair`` scenarios (a normal answer, plain and streamed; a 429 retried
after its retry-after; two 500s falling back to the second stand-in; none of them
leaving a reference cycle)."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from polyroute.testing.router_suite import FallbackPair
from polyroute.testing.standin import Responder, StandinServer
from polyroute_anthropic import plugin
from polyroute_anthropic.standin import AnthropicResponder

pytestmark = pytest.mark.standin


class TestRouter(FallbackPair):
    plugin: ClassVar[object] = plugin
    model = "claude-sonnet-4-5"
    names = ("anthropic", "backup")
    greeting = "Hello from the Anthropic stand-in: "

    def responder(self) -> Responder:
        return AnthropicResponder()

    def provider_entry(self, name: str, server: StandinServer) -> dict[str, Any]:
        return {"type": "anthropic", "base_url": server.url, "api_key": "sk-ant-router-test"}
