"""End to end through ``polyroute.router.Router`` against Cohere stand-ins.

One normal answer (plain and streamed), one 429 retried after its
``retry-after``, one fallback to a second stand-in, and a streamed tool call.
"""

from __future__ import annotations

from typing import Any

import pytest

from polyroute.testing.router_suite import FallbackPair, PairSetup
from polyroute.testing.standin import Responder, StandinServer
from polyroute.types import Message, ToolSpec
from polyroute_cohere import plugin
from polyroute_cohere.standin import CohereResponder

pytestmark = pytest.mark.standin

KEY = "co-router-key-0000000000000"


class TestRouter(FallbackPair):
    plugin = plugin
    model = "command-a-03-2025"
    names = ("cohere", "cohere_eu")
    greeting = "Hello from the Cohere stand-in: "

    def responder(self) -> Responder:
        return CohereResponder()

    def provider_entry(self, name: str, server: StandinServer) -> dict[str, Any]:
        return {"type": "cohere", "base_url": server.url, "api_key": KEY}

    async def test_streamed_tool_call_through_router(self, setup: PairSetup) -> None:
        router = setup.router
        tool = ToolSpec(name="lookup", parameters={"type": "object",
                                                   "properties": {"q": {"type": "string"}}})
        request = self.ask(Message.user("Look it up"), tools=[tool])
        chunks = [c async for c in router.astream(request)]
        deltas = [d for c in chunks for d in c.tool_calls]
        assert deltas and deltas[0].name == "lookup"
        assert chunks[-1].finish_reason == "tool_calls"
        assert chunks[-1].usage is not None and chunks[-1].usage.input_tokens > 0
