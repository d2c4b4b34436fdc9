"""End to end through ``polyroute.router.Router`` against Gemini stand-ins.

One normal answer (plain and streamed), one 429 that is retried after the
``RetryInfo`` delay, one fallback to a second stand-in, and a safety block
that is not fallen back from.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from polyroute.errors import BadRequestError, ContentPolicyError, NoRouteError
from polyroute.plugins.manager import PluginRegistry
from polyroute.router import Router
from polyroute.testing.router_suite import FallbackPair, PairSetup
from polyroute.testing.standin import Fault, Responder, StandinServer
from polyroute.types import ChatRequest, Message, ToolCallPart, ToolResultPart, ToolSpec
from polyroute_gemini import plugin
from polyroute_gemini.standin import GeminiResponder

pytestmark = pytest.mark.standin

KEY = "AIzaSy-router-0000000000000000000"


class TestRouter(FallbackPair):
    plugin = plugin
    model = "gemini-2.5-flash"
    names = ("gemini", "vertex")
    greeting = "Hello from the Gemini stand-in: "
    min_retry_wait = 0.02  # the stand-in's RetryInfo delay

    def responder(self) -> Responder:
        return GeminiResponder(blocked_words=("forbidden",))

    def backup_responder(self) -> Responder:
        return GeminiResponder()

    def provider_entry(self, name: str, server: StandinServer) -> dict[str, Any]:
        if name == "vertex":
            return {"type": "vertex_gemini", "base_url": server.url, "api_key": KEY,
                    "project": "demo", "extra": {"location": "us-east1"}}
        return {"type": "gemini", "base_url": server.url, "api_key": KEY}

    def rate_limit_fault(self) -> Fault:
        return Fault.status(429)  # no Retry-After: the wait comes from RetryInfo

    def test_catalog_prices_and_finish_reason(self, setup: PairSetup) -> None:
        resp = setup.router.chat(self.ask())
        assert resp.cost_usd is not None and resp.cost_usd > 0  # catalog prices applied
        chunks = list(setup.router.stream(self.ask()))
        assert chunks[-1].finish_reason == "stop" and chunks[-1].usage is not None

    def test_fallback_goes_to_the_vertex_path(self, setup: PairSetup) -> None:
        setup.main.push(Fault.status(500), Fault.status(500))
        assert setup.router.chat(self.ask()).provider == "vertex"
        assert setup.backup.requests[-1].path.startswith(
            "/v1/projects/demo/locations/us-east1/")

    async def test_async_answer(self, setup: PairSetup) -> None:
        resp = await setup.router.achat(self.ask(Message.user("hi")))
        assert resp.message.text == "Hello from the Gemini stand-in: hi"

    def test_safety_block_does_not_fall_back(self, setup: PairSetup) -> None:
        with pytest.raises(ContentPolicyError):
            setup.router.chat(self.ask(Message.user("the forbidden question")))
        assert not setup.backup.requests


# --- Gemini 3 tool loops: thought signatures go back with the history -------------

WEATHER = ToolSpec(name="get_weather", description="Weather in a city",
                   parameters={"type": "object", "properties": {"city": {"type": "string"}},
                               "required": ["city"]})


def gemini3_router(server: StandinServer) -> Router:
    return Router({
        "providers": {"gemini": {"type": "gemini", "base_url": server.url, "api_key": KEY}},
        "default": "gemini:gemini-3-pro-preview",
        "retry": {"attempts": 1},
    }, registry=PluginRegistry.create(load_entrypoints=False, plugins=[plugin]))


@pytest.fixture
def gemini3() -> Iterator[StandinServer]:
    with StandinServer(GeminiResponder()) as server:
        yield server


@pytest.mark.parametrize("streamed", [False, True])
def test_gemini_3_tool_loop_sends_signatures_back(gemini3: StandinServer, streamed: bool) -> None:
    with gemini3_router(gemini3) as router:
        first = ChatRequest(messages=[Message.user("Weather in Paris?")], tools=[WEATHER])
        if streamed:
            chunks = list(router.stream(first))
            deltas = [d for c in chunks for d in c.tool_calls]
            call = ToolCallPart(id=deltas[0].id or "", name=deltas[0].name or "",
                                arguments=json.loads(deltas[0].arguments),
                                signature=deltas[0].signature)
        else:
            (call,) = router.chat(first).message.tool_calls
        assert call.signature  # what the stand-in (as Gemini 3) signed the call with
        history = [*first.messages, Message(role="assistant", content=[call]),
                   Message(role="tool", content=[ToolResultPart(tool_call_id=call.id,
                                                                content='{"temp": 21}')])]
        answer = router.chat(ChatRequest(messages=history, tools=[WEATHER]))
    assert answer.message.text == 'The tool returned: {"temp": 21}'
    sent = json.loads(gemini3.requests[-1].body)["contents"][1]["parts"][0]
    assert "gemini:" + sent["thoughtSignature"] == call.signature


def test_gemini_3_refuses_a_forged_signature(gemini3: StandinServer) -> None:
    forged = ToolCallPart(id="c1", name="get_weather", arguments={"city": "Paris"},
                          signature="gemini:Zm9yZ2Vk")
    history = [Message.user("Weather in Paris?"), Message(role="assistant", content=[forged]),
               Message(role="tool", content=[ToolResultPart(tool_call_id="c1", content="21")])]
    with gemini3_router(gemini3) as router, pytest.raises(NoRouteError) as err:
        router.chat(ChatRequest(messages=history, tools=[WEATHER]))
    last = err.value.last_error
    assert isinstance(last, BadRequestError) and last.status == 400
    assert "thought_signature" in str(last)
    # history from another provider (unsigned, or signed by another family) gets
    # Google's placeholder instead
    unsigned = forged.model_copy(update={"signature": "anthropic-thinking:[]"})
    history[1] = Message(role="assistant", content=[unsigned])
    with gemini3_router(gemini3) as router:
        assert router.chat(ChatRequest(messages=history, tools=[WEATHER])).message.text


@pytest.mark.parametrize("streamed", [False, True])
def test_langchain_tool_loop_keeps_signatures(gemini3: StandinServer, streamed: bool) -> None:
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    from polyroute.langchain import RoutedChatModel

    router = gemini3_router(gemini3)
    llm = RoutedChatModel(router=router).bind_tools([{
        "name": "get_weather", "description": "Weather in a city",
        "parameters": WEATHER.parameters}])
    question = HumanMessage("Weather in Paris?")
    if streamed:
        chunks = list(llm.stream([question]))
        ai: AIMessage = chunks[0]
        for c in chunks[1:]:
            ai = ai + c  # type: ignore[assignment]
    else:
        ai = llm.invoke([question])
    (call,) = ai.tool_calls
    assert ai.additional_kwargs["polyroute_tool_call_signatures"][call["id"]]
    answer = llm.invoke([question, ai, ToolMessage('{"temp": 21}', tool_call_id=call["id"])])
    assert answer.content == 'The tool returned: {"temp": 21}'
    router.close()
