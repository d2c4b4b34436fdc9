"""Extended thinking with tools: the thinking blocks go back with the tool step.

Wire shapes from https://platform.claude.com/docs/build-with-claude/thinking-tool-workflows
(a ``thinking`` block with its ``signature`` before ``tool_use``; the tool step
must start its assistant turn with it, unmodified).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from polyroute.errors import BadRequestError, NoRouteError
from polyroute.plugins.manager import PluginRegistry
from polyroute.router import Router
from polyroute.testing.standin import StandinServer
from polyroute.types import (
    ChatRequest,
    GenerationParams,
    Message,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from polyroute_anthropic import AnthropicProvider, plugin
from polyroute_anthropic.request import build_body
from polyroute_anthropic.standin import AnthropicResponder

WEATHER = ToolSpec(name="get_weather", description="Weather in a city",
                   parameters={"type": "object", "properties": {"city": {"type": "string"}},
                               "required": ["city"]})
THINKING = GenerationParams(extra={"thinking": {"type": "enabled", "budget_tokens": 1024}})
THOUGHT = {"type": "thinking", "thinking": "I should check the weather.", "signature": "EqQBsig"}
REDACTED = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix"}


def test_thinking_before_each_call_rides_on_it(provider: AnthropicProvider) -> None:
    from polyroute.providers.base import HttpResponse

    body = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
            "content": [THOUGHT, {"type": "text", "text": "Checking."},
                        {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                         "input": {"city": "Paris"}},
                        REDACTED,
                        {"type": "tool_use", "id": "toolu_2", "name": "get_weather",
                         "input": {"city": "Rome"}}],
            "stop_reason": "tool_use", "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 20}}
    out = provider.parse_response(HttpResponse(200, {}, json.dumps(body).encode()), "m")
    first, second = out.message.tool_calls
    assert first.signature == "anthropic-thinking:" + json.dumps([THOUGHT], separators=(",", ":"))
    assert second.signature is not None and "EmwKAhgBEgy3va3pzix" in second.signature
    # sent back: the first call's thinking opens the turn, the second's sits before its call
    again = build_body(ChatRequest(messages=[Message.user("Weather?"), out.message,
                                             Message(role="tool", content=[
                                                 ToolResultPart(tool_call_id="toolu_1",
                                                                content="21"),
                                                 ToolResultPart(tool_call_id="toolu_2",
                                                                content="25")])]),
                       "claude-sonnet-4-5", stream=False)
    assert [b["type"] for b in again["messages"][1]["content"]] == [
        "thinking", "text", "tool_use", "redacted_thinking", "tool_use"]
    assert again["messages"][1]["content"][0] == THOUGHT  # unmodified


def test_other_families_signatures_are_not_sent(provider: AnthropicProvider) -> None:
    msg = Message(role="assistant", content=[
        TextPart(text="x"),
        ToolCallPart(id="c1", name="get_weather", arguments={}, signature="gemini:CiIB")])
    body = build_body(ChatRequest(messages=[Message.user("q"), msg]), "m", stream=False)
    assert [b["type"] for b in body["messages"][1]["content"]] == ["text", "tool_use"]


@pytest.fixture
def server() -> Iterator[StandinServer]:
    with StandinServer(AnthropicResponder()) as srv:
        yield srv


def router_for(server: StandinServer) -> Router:
    return Router({
        "providers": {"anthropic": {"type": "anthropic", "base_url": server.url,
                                    "api_key": "sk-ant-test"}},
        "default": "anthropic:claude-sonnet-4-5",
        "retry": {"attempts": 1},
    }, registry=PluginRegistry.create(load_entrypoints=False, plugins=[plugin]))


def ask(messages: list[Message]) -> ChatRequest:
    return ChatRequest(messages=messages, tools=[WEATHER], params=THINKING)


@pytest.mark.standin
@pytest.mark.parametrize("streamed", [False, True])
def test_tool_loop_with_thinking(server: StandinServer, streamed: bool) -> None:
    question = [Message.user("Weather in Paris?")]
    with router_for(server) as router:
        if streamed:
            deltas = [d for c in router.stream(ask(question)) for d in c.tool_calls]
            start = next(d for d in deltas if d.name)
            args = "".join(d.arguments for d in deltas)
            call = ToolCallPart(id=start.id or "", name=start.name or "",
                                arguments=json.loads(args), signature=start.signature)
        else:
            (call,) = router.chat(ask(question)).message.tool_calls
        assert call.signature and call.signature.startswith("anthropic-thinking:")
        history = [*question, Message(role="assistant", content=[call]),
                   Message(role="tool", content=[ToolResultPart(tool_call_id=call.id,
                                                                content="21 C")])]
        answer = router.chat(ask(history))
    assert answer.message.text == "The tool returned: 21 C"
    sent: dict[str, Any] = json.loads(server.requests[-1].body)
    assert sent["messages"][1]["content"][0]["type"] == "thinking"


@pytest.mark.standin
def test_a_tool_step_without_its_thinking_is_refused(server: StandinServer) -> None:
    call = ToolCallPart(id="toolu_x", name="get_weather", arguments={"city": "Paris"})
    history = [Message.user("Weather in Paris?"), Message(role="assistant", content=[call]),
               Message(role="tool", content=[ToolResultPart(tool_call_id="toolu_x",
                                                            content="21")])]
    with router_for(server) as router, pytest.raises(NoRouteError) as err:
        router.chat(ask(history))
    last = err.value.last_error
    assert isinstance(last, BadRequestError) and last.status == 400
    assert "must start with a thinking block" in str(last)

