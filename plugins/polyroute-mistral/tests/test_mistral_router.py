"""End to end through ``polyroute.router.Router`` against Mistral stand-ins.

One normal answer (plain and streamed), one 429 retried after its
``retry-after``, one fallback to a second stand-in, and a tool-calling turn
whose history carries a foreign tool-call id.
"""

from __future__ import annotations

from typing import Any

import pytest

from polyroute.testing.router_suite import FallbackPair, PairSetup
from polyroute.testing.standin import Responder, StandinServer
from polyroute.types import Message, ToolCallPart, ToolResultPart, ToolSpec
from polyroute_mistral import plugin
from polyroute_mistral.standin import MistralResponder

pytestmark = pytest.mark.standin

KEY = "mistral-router-key-000000000000"


class TestRouter(FallbackPair):
    plugin = plugin
    model = "mistral-small-latest"
    names = ("mistral", "mistral_eu")
    greeting = "Hello from the Mistral stand-in: "

    def responder(self) -> Responder:
        return MistralResponder()

    def provider_entry(self, name: str, server: StandinServer) -> dict[str, Any]:
        return {"type": "mistral", "base_url": server.url + "/v1", "api_key": KEY}

    async def test_tool_turn_with_foreign_ids(self, setup: PairSetup) -> None:
        router, main = setup.router, setup.main
        tool = ToolSpec(name="lookup", parameters={"type": "object",
                                                   "properties": {"q": {"type": "string"}}})
        foreign = "toolu_01A09q90qw90lq917835lq9"
        resp = await router.achat(self.ask(
            Message.user("Look it up"),
            Message(role="assistant", content=[ToolCallPart(id=foreign, name="lookup",
                                                            arguments={"q": "x"})]),
            Message(role="tool", content=[ToolResultPart(tool_call_id=foreign, content="found")]),
            tools=[tool]))
        assert resp.message.text == "The tool returned: found"
        sent = main.requests[-1].json()["messages"]
        assert sent[1]["tool_calls"][0]["id"] == sent[2]["tool_call_id"]
        assert len(sent[2]["tool_call_id"]) == 9
