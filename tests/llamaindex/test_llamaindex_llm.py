"""``RoutedLLM``: the eight chat/complete forms, tools, token counts, metadata and an
offline agent run — against the OpenAI stand-in (a scripted model on loopback)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent, ReActAgent
from llama_index.core.base.llms.types import (
    ChatMessage,
    ImageBlock,
    MessageRole,
    TextBlock,
    ToolCallBlock,
)
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.tools import FunctionTool

from polyroute.llamaindex import RoutedLLM, UnsupportedContentError, to_neutral
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    ImagePart,
    Message,
    NamedToolChoice,
    ToolCallPart,
    ToolResultPart,
    Usage,
)
from polyroute_openai.standin import OpenAIResponder

pytestmark = [
    pytest.mark.standin,
    # llama-index-workflows walks agent instances with inspect.getmembers, which touches
    # pydantic's deprecated ``__fields__``: their warning, not ours.
    pytest.mark.filterwarnings("ignore:The `__fields(_set)?__` attribute is deprecated"),
    pytest.mark.filterwarnings(
        "ignore:Accessing the 'model_(computed_)?fields' attribute on the instance"),
]


class TwoStepResponder(OpenAIResponder):
    """The stand-in model, scripted one step further: after the first tool's result it
    calls the second tool (arguments from its schema), then answers in text."""

    def _script(self, body: dict[str, Any], n: int) -> dict[str, Any]:
        messages = body["messages"]
        tools = body.get("tools") or []
        tool_results = [m for m in messages if m.get("role") == "tool"]
        if len(tools) >= 2 and len(tool_results) == 1:
            fn = tools[1]["function"]
            args = json.dumps({"amount": 42.0, "currency": "EUR"})
            call = {"id": f"call_second{n:04d}", "type": "function",
                    "function": {"name": fn["name"], "arguments": args}}
            return {"text": None, "tool_calls": [call], "finish": "tool_calls",
                    "output_tokens": 7}
        return super()._script(body, n)


def price(item: str) -> str:
    """Look up the price of an item, in USD."""
    return f"{item} costs 42 USD"


def convert(amount: float, currency: str) -> str:
    """Convert an amount in USD to another currency."""
    return f"{amount:g} USD is {amount * 0.5:g} {currency}"


@pytest.fixture
def server() -> Iterator[StandinServer]:
    with StandinServer(TwoStepResponder()) as s:
        yield s


def make_llm(server: StandinServer, **kwargs: Any) -> RoutedLLM:
    config = {"providers": {"openai": {"type": "openai", "base_url": server.url + "/v1",
                                       "api_key": "sk-standin-test"}},
              "retry": {"attempts": 2, "initial_backoff": 0, "max_backoff": 0}}
    return RoutedLLM(model="openai:gpt-4.1-mini", config=config, **kwargs)


@pytest.fixture
def llm(server: StandinServer) -> Iterator[RoutedLLM]:
    model = make_llm(server)
    yield model
    model.close()


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role=MessageRole.USER, content=text)]


TOOLS = [FunctionTool.from_defaults(price), FunctionTool.from_defaults(convert)]


# --- the eight forms ---------------------------------------------------------------


def test_is_a_function_calling_llm(llm: RoutedLLM) -> None:
    assert isinstance(llm, FunctionCallingLLM)
    meta = llm.metadata
    assert meta.is_chat_model and meta.is_function_calling_model
    assert meta.model_name == "openai:gpt-4.1-mini"
    assert meta.context_window > 100_000  # from the OpenAI plugin's catalog
    assert meta.num_output > 0
    assert make_llm_with(llm, max_tokens=77, context_window=9000).metadata.num_output == 77


def make_llm_with(llm: RoutedLLM, **kwargs: Any) -> RoutedLLM:
    return RoutedLLM(model=llm.model, config=llm.config, **kwargs)


def test_chat_and_token_counts(llm: RoutedLLM) -> None:
    resp = llm.chat(user("hello world"))
    assert resp.message.role == MessageRole.ASSISTANT
    assert resp.message.content == "Hello from the OpenAI stand-in: hello world"
    kw = resp.additional_kwargs
    assert kw["prompt_tokens"] > 0 and kw["completion_tokens"] == 7
    assert kw["total_tokens"] == kw["prompt_tokens"] + kw["completion_tokens"]
    assert kw["polyroute"]["provider"] == "openai"
    assert kw["polyroute"]["attempts"][0]["ok"] is True


def test_complete(llm: RoutedLLM) -> None:
    resp = llm.complete("say hi")
    assert resp.text == "Hello from the OpenAI stand-in: say hi"
    assert resp.additional_kwargs["completion_tokens"] == 7


def test_stream_chat(llm: RoutedLLM) -> None:
    chunks = list(llm.stream_chat(user("one two three four five")))
    assert len(chunks) > 2
    assert "".join(c.delta or "" for c in chunks) == chunks[-1].message.content
    assert chunks[-1].message.content.endswith("one two three four five")
    assert chunks[-1].additional_kwargs["total_tokens"] > 0
    assert all("prompt_tokens" not in c.additional_kwargs for c in chunks[:-1])


def test_stream_complete(llm: RoutedLLM) -> None:
    chunks = list(llm.stream_complete("a b c d"))
    assert chunks[-1].text.endswith("a b c d")
    assert "".join(c.delta or "" for c in chunks) == chunks[-1].text
    assert chunks[-1].additional_kwargs["completion_tokens"] > 0


async def test_achat_and_acomplete(llm: RoutedLLM) -> None:
    resp = await llm.achat(user("async hello"))
    assert resp.message.content.endswith("async hello")
    assert resp.additional_kwargs["prompt_tokens"] > 0
    done = await llm.acomplete("async complete")
    assert done.text.endswith("async complete")


async def test_astream_chat_and_astream_complete(llm: RoutedLLM) -> None:
    chunks = [c async for c in await llm.astream_chat(user("x y z w v"))]
    assert chunks[-1].message.content.endswith("x y z w v")
    assert chunks[-1].additional_kwargs["total_tokens"] > 0
    texts = [c async for c in await llm.astream_complete("p q r s")]
    assert texts[-1].text.endswith("p q r s")
    assert "".join(c.delta or "" for c in texts) == texts[-1].text


class AsyncOnlyRouter:
    """Fails every sync call: proves the async forms never go through the sync path."""

    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []

    def chat(self, request: ChatRequest) -> ChatResponse:
        raise AssertionError("sync chat called from an async form")

    def stream(self, request: ChatRequest) -> Iterator[ChatChunk]:
        raise AssertionError("sync stream called from an async form")

    async def achat(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        return ChatResponse(message=Message.assistant("native async"), usage=Usage(
            input_tokens=3, output_tokens=2), provider="p", model="m")

    async def astream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        self.requests.append(request)
        yield ChatChunk(text="native ", provider="p", model="m")
        yield ChatChunk(text="stream", provider="p", model="m")
        yield ChatChunk(finish_reason="stop", usage=Usage(input_tokens=3, output_tokens=2),
                        provider="p", model="m")


async def test_async_forms_are_native() -> None:
    router = AsyncOnlyRouter()
    llm = RoutedLLM(router=router, model="p:m", temperature=0.3, max_tokens=50)
    assert (await llm.achat(user("a"))).message.content == "native async"
    assert (await llm.acomplete("a")).text == "native async"
    chunks = [c async for c in await llm.astream_chat(user("a"))]
    assert chunks[-1].message.content == "native stream"
    assert chunks[-1].additional_kwargs["prompt_tokens"] == 3
    texts = [c async for c in await llm.astream_complete("a")]
    assert texts[-1].text == "native stream"
    assert len(router.requests) == 4
    params = router.requests[0].params
    assert params.temperature == 0.3 and params.max_tokens == 50
    assert router.requests[2].stream is True


def test_token_counting_handler_reads_the_counts(server: StandinServer) -> None:
    counter = TokenCountingHandler()
    llm = make_llm(server, callback_manager=CallbackManager([counter]))
    llm.chat(user("count my tokens"))
    llm.complete("and these")
    assert counter.completion_llm_token_count > 0
    assert counter.prompt_llm_token_count > 0
    assert len(counter.llm_token_counts) == 2
    llm.close()


def test_per_call_params_and_routing(server: StandinServer) -> None:
    seen: list[dict[str, Any]] = []
    responder = server.responder
    original = responder.answer

    def spy(request: Any) -> Any:
        seen.append(request.json())
        return original(request)

    responder.answer = spy  # type: ignore[method-assign]
    llm = make_llm(server, temperature=0.1, stop=["END"], additional_kwargs={"user": "u1"})
    llm.chat(user("hi"), temperature=0.7, max_tokens=5, seed=3, model="gpt-4.1")
    body = seen[-1]
    assert body["model"] == "gpt-4.1"  # a bare id keeps the provider of ``model``
    assert body["temperature"] == 0.7 and body["seed"] == 3
    assert body["max_completion_tokens"] == 5 and body["stop"] == ["END"]
    assert body["user"] == "u1"
    llm.close()


def test_fallback_is_visible(server: StandinServer) -> None:
    with StandinServer(OpenAIResponder()) as backup:
        config = {"providers": {
            "primary": {"type": "openai", "base_url": server.url + "/v1", "api_key": "sk-a"},
            "backup": {"type": "openai", "base_url": backup.url + "/v1", "api_key": "sk-b"},
        }, "retry": {"attempts": 1}}
        server.push(Fault.status(500))
        llm = RoutedLLM(model="primary:gpt-4.1-mini", fallbacks=["backup:gpt-4.1-mini"],
                        config=config)
        resp = llm.chat(user("hi"))
        info = resp.additional_kwargs["polyroute"]
        assert info["provider"] == "backup"
        assert [a["ok"] for a in info["attempts"]] == [False, True]
        llm.close()


# --- tools --------------------------------------------------------------------------


def test_chat_with_tools_and_tool_calls(llm: RoutedLLM) -> None:
    resp = llm.chat_with_tools(TOOLS, user_msg="What does 'gizmo' cost?")
    calls = llm.get_tool_calls_from_response(resp)
    assert [c.tool_name for c in calls] == ["price"]
    assert calls[0].tool_kwargs == {"item": "gizmo"}
    assert calls[0].tool_id.startswith("call_standin")
    assert resp.message.additional_kwargs["tool_calls"][0]["function"]["name"] == "price"
    plain = llm.chat(user("no tools"))
    assert llm.get_tool_calls_from_response(plain, error_on_no_tool_call=False) == []
    with pytest.raises(ValueError, match="at least one tool call"):
        llm.get_tool_calls_from_response(plain)


def test_tool_choice_forces_a_tool(llm: RoutedLLM) -> None:
    kwargs = llm._prepare_chat_with_tools(TOOLS, user_msg="hi", tool_choice="convert",
                                          tool_required=True)
    request = llm._request(kwargs.pop("messages"), kwargs)
    assert request.tool_choice == NamedToolChoice(name="convert")
    assert [t.name for t in request.tools] == ["price", "convert"]
    assert request.parallel_tool_calls is False
    resp = llm.chat_with_tools(TOOLS, user_msg="convert 3", tool_choice="convert")
    assert llm.get_tool_calls_from_response(resp)[0].tool_name == "convert"
    required = llm._prepare_chat_with_tools(TOOLS, user_msg="x", tool_required=True)
    assert required["tool_choice"] == "required"


def test_stream_chat_with_tools_parses_partial_arguments(llm: RoutedLLM) -> None:
    chunks = list(llm.stream_chat_with_tools(TOOLS, user_msg="price of 'sprocket'?"))
    partial = [llm.get_tool_calls_from_response(c, error_on_no_tool_call=False)
               for c in chunks]
    assert any(p and p[0].tool_name == "price" for p in partial[:-1])
    final = llm.get_tool_calls_from_response(chunks[-1])
    assert final[0].tool_kwargs == {"item": "sprocket"}


async def test_astream_chat_with_tools(llm: RoutedLLM) -> None:
    stream = await llm.astream_chat_with_tools(TOOLS, user_msg="price of 'cog'?")
    chunks = [c async for c in stream]
    assert llm.get_tool_calls_from_response(chunks[-1])[0].tool_kwargs == {"item": "cog"}


def test_predict_and_call(llm: RoutedLLM) -> None:
    out = llm.predict_and_call(TOOLS, user_msg="What does 'bolt' cost?")
    assert out.response == "bolt costs 42 USD"


async def test_apredict_and_call(llm: RoutedLLM) -> None:
    out = await llm.apredict_and_call(TOOLS, user_msg="What does 'nut' cost?")
    assert out.response == "nut costs 42 USD"


# --- agents, offline ---------------------------------------------------------------------


async def test_function_agent_uses_two_tools_and_answers(llm: RoutedLLM) -> None:
    agent = FunctionAgent(
        tools=[FunctionTool.from_defaults(price), FunctionTool.from_defaults(convert)],
        llm=llm, system_prompt="You price items and convert currencies.",
    )
    handler = agent.run(user_msg="What does a 'widget' cost in EUR?")
    called: list[tuple[str, dict[str, Any], str]] = []
    async for event in handler.stream_events():
        if type(event).__name__ == "ToolCallResult":
            called.append((event.tool_name, event.tool_kwargs, str(event.tool_output)))
    result = await handler
    assert called == [
        ("price", {"item": "widget"}, "widget costs 42 USD"),
        ("convert", {"amount": 42.0, "currency": "EUR"}, "42 USD is 21 EUR"),
    ]
    assert str(result.response.content) == "The tool returned: 42 USD is 21 EUR"


async def test_function_agent_streaming(server: StandinServer) -> None:
    llm = make_llm(server)
    agent = FunctionAgent(tools=TOOLS, llm=llm, streaming=True)
    result = await agent.run(user_msg="What does a 'gear' cost in EUR?")
    assert str(result.response.content) == "The tool returned: 42 USD is 21 EUR"
    await llm.aclose()


@pytest.mark.filterwarnings("ignore:is_running called from within a step")  # ReActAgent's own
async def test_react_agent_offline() -> None:
    with StandinServer(OpenAIResponder(model_reply=_react_script)) as server:
        llm = make_llm(server)
        agent = ReActAgent(tools=TOOLS, llm=llm)
        result = await agent.run(user_msg="What does a 'flange' cost?")
        assert "flange costs 42 USD" in str(result.response.content)
        await llm.aclose()


def _react_script(body: dict[str, Any]) -> str:
    """A text-only model following the ReAct format: act once, then answer."""
    transcript = json.dumps(body["messages"])
    if "Observation" in transcript:
        return "Thought: I can answer without using any more tools.\n" \
               "Answer: The flange costs 42 USD (the tool said: flange costs 42 USD)."
    return 'Thought: I need the price.\nAction: price\nAction Input: {"item": "flange"}'


# --- messages ---------------------------------------------------------------------------


def test_messages_to_neutral() -> None:
    system = to_neutral(ChatMessage(role=MessageRole.SYSTEM, content="be brief"))
    assert system == Message(role="system", content="be brief")
    image = to_neutral(ChatMessage(role=MessageRole.USER, blocks=[
        TextBlock(text="what is this?"),
        ImageBlock(url="https://example.com/cat.png", detail="low"),
        ImageBlock(image=b"\x89PNG\r\n\x1a\nfake", image_mimetype="image/png"),
    ]))
    parts = image.parts
    assert isinstance(parts[1], ImagePart) and parts[1].url == "https://example.com/cat.png"
    assert parts[1].detail == "low"
    assert isinstance(parts[2], ImagePart) and parts[2].data and parts[2].media_type == "image/png"
    call = to_neutral(ChatMessage(role=MessageRole.ASSISTANT, blocks=[
        TextBlock(text="let me look"),
        ToolCallBlock(tool_call_id="c1", tool_name="price", tool_kwargs={"item": "x"}),
    ]))
    assert call.tool_calls == [ToolCallPart(id="c1", name="price", arguments={"item": "x"})]
    legacy = to_neutral(ChatMessage(role=MessageRole.ASSISTANT, content="", additional_kwargs={
        "tool_calls": [{"id": "c2", "type": "function",
                        "function": {"name": "price", "arguments": '{"item": "y"}'}}]}))
    assert legacy.tool_calls == [ToolCallPart(id="c2", name="price", arguments={"item": "y"})]
    result = to_neutral(ChatMessage(role=MessageRole.TOOL, content="42",
                                    additional_kwargs={"tool_call_id": "c1"}))
    assert result.content == [ToolResultPart(tool_call_id="c1", content="42")]


def test_call_signatures_survive_the_round_trip() -> None:
    from polyroute.llamaindex.messages import to_llamaindex

    signed = Message(role="assistant", content=[
        ToolCallPart(id="c1", name="price", arguments={"item": "x"}, signature="gemini:CiIBVKhc"),
        ToolCallPart(id="c2", name="price", arguments={"item": "y"})])
    li = to_llamaindex(signed)
    assert li.additional_kwargs["polyroute_tool_call_signatures"] == {"c1": "gemini:CiIBVKhc"}
    assert to_neutral(li) == signed


def test_unsupported_messages_are_refused() -> None:
    with pytest.raises(UnsupportedContentError, match="tool_call_id"):
        to_neutral(ChatMessage(role=MessageRole.TOOL, content="42"))
    with pytest.raises(UnsupportedContentError, match="cannot carry tool calls"):
        to_neutral(ChatMessage(role=MessageRole.USER, blocks=[
            ToolCallBlock(tool_call_id="c", tool_name="t", tool_kwargs={})]))
