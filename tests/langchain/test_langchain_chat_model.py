"""``RoutedChatModel`` against a scripted router: requests built, outputs shaped, errors kept."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any
from unittest import mock

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, load
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_core.tools import tool
from pydantic import BaseModel, Field

from polyroute.errors import NoRouteError, RateLimitError
from polyroute.langchain import RoutedChatModel
from polyroute.types import (
    Attempt,
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Message,
    NamedToolChoice,
    ResponseFormat,
    ToolCallDelta,
    ToolCallPart,
    ToolResultPart,
    Usage,
)

USAGE = Usage(
    input_tokens=12, output_tokens=5, cache_read_tokens=4, cache_write_tokens=2,
    reasoning_tokens=1,
)
ATTEMPTS = [
    Attempt(provider="openai", model="gpt-4.1-mini", ok=False, latency_ms=5.0,
            error="RateLimitError", status=429, action="fell_back"),
    Attempt(provider="anthropic", model="claude-haiku-4-5", ok=True, latency_ms=20.0),
]


class FakeRouter:
    """Answers every call with ``message`` (text, or tool calls); records the requests."""

    def __init__(self, message: Message | None = None, *, error: Exception | None = None) -> None:
        self.message = message or Message.assistant("Hello there")
        self.error = error
        self.requests: list[ChatRequest] = []

    def _response(self, request: ChatRequest) -> ChatResponse:
        self.requests.append(request)
        if self.error is not None:
            raise self.error
        return ChatResponse(
            message=self.message,
            finish_reason="tool_calls" if self.message.tool_calls else "stop",
            usage=USAGE, provider="anthropic", model="claude-haiku-4-5",
            response_model="claude-haiku-4-5-20251001", response_id="resp_1",
            attempts=ATTEMPTS, latency_ms=25.0, cost_usd=0.0001, cache_hit=False,
        )

    def chat(self, request: ChatRequest) -> ChatResponse:
        return self._response(request)

    async def achat(self, request: ChatRequest) -> ChatResponse:
        return self._response(request)

    def _chunks(self, request: ChatRequest) -> list[ChatChunk]:
        resp = self._response(request)
        base = {"provider": resp.provider, "model": resp.model, "response_id": "resp_1"}
        out = [ChatChunk(text=w, **base) for w in _words(resp.message.text)]
        for i, call in enumerate(resp.message.tool_calls):
            out.append(ChatChunk(tool_calls=[ToolCallDelta(index=i, id=call.id, name=call.name)],
                                 **base))
            args = _args_json(call)
            out += [ChatChunk(tool_calls=[ToolCallDelta(index=i, arguments=args[j:j + 4])], **base)
                    for j in range(0, len(args), 4)]
        out.append(ChatChunk(finish_reason=resp.finish_reason, usage=USAGE,
                             response_model=resp.response_model, attempts=ATTEMPTS, **base))
        return out

    def stream(self, request: ChatRequest) -> Iterator[ChatChunk]:
        yield from self._chunks(request)

    async def astream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        for chunk in self._chunks(request):
            yield chunk


def _words(text: str) -> list[str]:
    words = text.split(" ")
    return [w + (" " if i < len(words) - 1 else "") for i, w in enumerate(words) if text]


def _args_json(call: ToolCallPart) -> str:
    return json.dumps(call.arguments)


# --- tests ---------------------------------------------------------------------


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Joke(BaseModel):
    """A joke."""

    setup: str = Field(description="the setup")
    punchline: str = Field(description="the punchline")


def _model(router: FakeRouter, **kwargs: Any) -> RoutedChatModel:
    return RoutedChatModel(model="openai:gpt-4.1-mini", router=router, **kwargs)


def test_invoke_builds_request_and_shapes_output() -> None:
    router = FakeRouter()
    llm = _model(router, temperature=0.2, max_tokens=50, stop=["END"], top_p=0.9, seed=7,
                 fallbacks=["anthropic:claude-haiku-4-5"], model_kwargs={"user": "u1"})
    msg = llm.invoke([HumanMessage("hi")])
    req = router.requests[0]
    assert req.messages == [Message.user("hi")]
    assert req.routing.model == "openai:gpt-4.1-mini"
    assert req.routing.fallbacks == ["anthropic:claude-haiku-4-5"]
    p = req.params
    assert (p.temperature, p.max_tokens, p.stop, p.top_p, p.seed) == (0.2, 50, ["END"], 0.9, 7)
    assert p.extra == {"user": "u1"}
    assert not req.stream and not req.tools

    assert isinstance(msg, AIMessage)
    assert msg.content == "Hello there"
    assert msg.id == "resp_1"
    assert msg.usage_metadata == {
        "input_tokens": 12, "output_tokens": 5, "total_tokens": 17,
        "input_token_details": {"cache_read": 4, "cache_creation": 2},
        "output_token_details": {"reasoning": 1},
    }
    meta = msg.response_metadata
    assert meta["model_provider"] == "polyroute"
    assert meta["polyroute"]["provider"] == "anthropic"
    assert meta["model_name"] == "claude-haiku-4-5-20251001"
    assert meta["finish_reason"] == "stop"
    pr = meta["polyroute"]
    assert pr["attempts"][0]["error"] == "RateLimitError"
    assert pr["attempts"][1]["ok"] is True
    assert (pr["cost_usd"], pr["latency_ms"], pr["cache_hit"]) == (0.0001, 25.0, False)


def test_per_call_overrides() -> None:
    router = FakeRouter()
    llm = _model(router, temperature=0.2, stop=["A"])
    llm.invoke("hi", stop=["B"], temperature=0.9, model="gpt-4.1-nano", top_k=5, logprobs=True,
               agent="pricing", routing_tags={"team": "x"})
    req = router.requests[0]
    assert req.routing.model == "openai:gpt-4.1-nano"  # a bare id keeps the provider
    assert req.routing.agent == "pricing"
    assert req.routing.tags == {"team": "x"}
    assert (req.params.temperature, req.params.stop, req.params.top_k) == (0.9, ["B"], 5)
    assert req.params.extra == {"logprobs": True}
    llm.invoke("hi", model="anthropic:claude-sonnet-4-5")
    assert router.requests[1].routing.model == "anthropic:claude-sonnet-4-5"


def test_agent_and_task_routing() -> None:
    router = FakeRouter()
    RoutedChatModel(router=router, agent="swe_agent").invoke("hi")
    RoutedChatModel(router=router, task="code_generation").invoke("hi")
    assert router.requests[0].routing.agent == "swe_agent"
    assert router.requests[0].routing.model is None
    assert router.requests[1].routing.task == "code_generation"


def test_stream_chunks_and_callbacks() -> None:
    tokens: list[str] = []

    class Tokens(BaseCallbackHandler):
        def on_llm_new_token(self, token: str, **kwargs: Any) -> None:
            tokens.append(token)

    router = FakeRouter(Message.assistant("one two three"))
    chunks = list(_model(router).stream("hi", config={"callbacks": [Tokens()]}))
    assert router.requests[0].stream is True
    assert [c.content for c in chunks] == ["one ", "two ", "three", ""]
    assert tokens == ["one ", "two ", "three", ""]
    assert [c.chunk_position for c in chunks] == [None, None, None, "last"]
    assert all(c.usage_metadata is None for c in chunks[:-1])
    full = chunks[0]
    for c in chunks[1:]:
        full = full + c
    assert isinstance(full, AIMessageChunk)
    assert full.content == "one two three"
    assert full.usage_metadata is not None and full.usage_metadata["input_tokens"] == 12
    assert full.response_metadata["model_name"] == "claude-haiku-4-5-20251001"
    assert full.response_metadata["polyroute"]["attempts"][1]["ok"] is True


async def test_astream_and_ainvoke() -> None:
    router = FakeRouter(Message.assistant("one two"))
    llm = _model(router)
    chunks = [c async for c in llm.astream("hi")]
    assert "".join(str(c.content) for c in chunks) == "one two"
    assert chunks[-1].chunk_position == "last"
    msg = await llm.ainvoke("hi")
    assert msg.content == "one two"


def test_tool_calls_invoke_and_stream() -> None:
    call = ToolCallPart(id="call_1", name="add", arguments={"a": 1, "b": 2})
    router = FakeRouter(Message(role="assistant", content=[call]))
    bound = _model(router).bind_tools([add], tool_choice="any", parallel_tool_calls=False)
    msg = bound.invoke("1+2?")
    req = router.requests[0]
    assert [t.name for t in req.tools] == ["add"]
    assert req.tools[0].parameters["required"] == ["a", "b"]
    assert req.tool_choice == "required"
    assert req.parallel_tool_calls is False
    assert isinstance(msg, AIMessage)
    assert msg.tool_calls == [{"name": "add", "args": {"a": 1, "b": 2}, "id": "call_1",
                               "type": "tool_call"}]
    full = None
    for c in bound.stream("1+2?"):
        full = c if full is None else full + c
    assert isinstance(full, AIMessageChunk)
    assert full.tool_calls == msg.tool_calls
    assert full.invalid_tool_calls == []


def test_streamed_bad_tool_json_becomes_invalid_tool_call() -> None:
    class BadArgs(FakeRouter):
        def _chunks(self, request: ChatRequest) -> list[ChatChunk]:
            self.requests.append(request)
            return [
                ChatChunk(tool_calls=[ToolCallDelta(index=0, id="c1", name="add",
                                                    arguments='a=1, b=2')]),
                ChatChunk(finish_reason="tool_calls", usage=USAGE),
            ]

    full = None
    for c in _model(BadArgs()).bind_tools([add]).stream("x"):
        full = c if full is None else full + c
    assert isinstance(full, AIMessageChunk)
    assert full.tool_calls == []
    assert full.invalid_tool_calls[0]["name"] == "add"


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", "auto"), ("none", "none"), ("any", "required"), ("required", "required"),
        ("add", NamedToolChoice(name="add")), (True, NamedToolChoice(name="add")),
        ({"type": "function", "function": {"name": "add"}}, NamedToolChoice(name="add")),
        ({"type": "tool", "name": "add"}, NamedToolChoice(name="add")),
        ({"type": "any"}, "required"), (None, None),
    ],
)
def test_tool_choice(choice: Any, expected: Any) -> None:
    router = FakeRouter()
    _model(router).bind_tools([add], tool_choice=choice).invoke("x")
    assert router.requests[0].tool_choice == expected


def test_tool_choice_errors() -> None:
    llm = _model(FakeRouter())
    with pytest.raises(ValueError, match="not a bound tool"):
        llm.bind_tools([add], tool_choice="subtract")
    with pytest.raises(ValueError, match="2 are bound"):
        llm.bind_tools([add, Joke], tool_choice=True)


def test_tool_history_round_trips_to_the_router() -> None:
    router = FakeRouter()
    history = [
        HumanMessage("1+2?"),
        AIMessage("", tool_calls=[{"name": "add", "args": {"a": 1}, "id": "c1",
                                   "type": "tool_call"}]),
        ToolMessage("missing b", tool_call_id="c1", name="add", status="error"),
    ]
    _model(router).bind_tools([add]).invoke(history)
    sent = router.requests[0].messages
    assert sent[1].content == [ToolCallPart(id="c1", name="add", arguments={"a": 1})]
    assert sent[2].content == [ToolResultPart(tool_call_id="c1", content="missing b",
                                              name="add", is_error=True)]


def test_structured_output_function_calling() -> None:
    call = ToolCallPart(id="c1", name="Joke", arguments={"setup": "s", "punchline": "p"})
    router = FakeRouter(Message(role="assistant", content=[call]))
    out = _model(router).with_structured_output(Joke).invoke("joke")
    assert out == Joke(setup="s", punchline="p")
    assert router.requests[0].tool_choice == NamedToolChoice(name="Joke")
    raw = _model(router).with_structured_output(Joke, include_raw=True).invoke("joke")
    assert isinstance(raw["raw"], AIMessage) and raw["parsing_error"] is None


@pytest.mark.parametrize("method", ["json_schema", "json_mode"])
def test_structured_output_response_format(method: str) -> None:
    router = FakeRouter(Message.assistant(json.dumps({"setup": "s", "punchline": "p"})))
    llm = _model(router).with_structured_output(Joke, method=method, strict=True
                                                if method == "json_schema" else None)
    assert llm.invoke("joke") == Joke(setup="s", punchline="p")
    fmt = router.requests[0].response_format
    assert isinstance(fmt, ResponseFormat)
    if method == "json_schema":
        assert fmt.type == "json_schema" and fmt.name == "Joke" and fmt.strict is True
        assert fmt.json_schema is not None and set(fmt.json_schema["properties"]) == {
            "setup", "punchline"}
    else:
        assert fmt.type == "json_object"
    streamed = list(_model(router).with_structured_output(
        Joke.model_json_schema(), method=method).stream("joke"))
    assert streamed[-1] == {"setup": "s", "punchline": "p"}


def test_response_format_kwarg_forms() -> None:
    router = FakeRouter(Message.assistant("{}"))
    llm = _model(router)
    llm.invoke("x", response_format={"type": "json_object"})
    llm.invoke("x", response_format=Joke)
    llm.invoke("x", response_format={"type": "json_schema",
                                     "json_schema": {"name": "j", "schema": {"type": "object"}}})
    kinds = [(r.response_format.type, r.response_format.name) for r in router.requests
             if r.response_format]
    assert kinds == [("json_object", None), ("json_schema", "Joke"), ("json_schema", "j")]


def test_router_errors_propagate_typed() -> None:
    err = NoRouteError("no candidate", [])
    with pytest.raises(NoRouteError):
        _model(FakeRouter(error=err)).invoke("x")
    with pytest.raises(RateLimitError):
        list(_model(FakeRouter(error=RateLimitError("slow down"))).stream("x"))


def test_ls_params_and_identity() -> None:
    llm = RoutedChatModel(model="openai:gpt-4.1-mini", api_key="sk-secret-value-123",
                          temperature=0.1, max_tokens=9, stop=["x"])
    ls = llm._get_ls_params()
    assert ls["ls_provider"] == "polyroute"
    assert ls["ls_model_name"] == "openai:gpt-4.1-mini"
    assert (ls["ls_temperature"], ls["ls_max_tokens"], ls["ls_stop"]) == (0.1, 9, ["x"])
    assert llm._get_ls_params(model="gpt-4.1-nano")["ls_model_name"] == "gpt-4.1-nano"
    assert RoutedChatModel(agent="a")._get_ls_params()["ls_model_name"] == "agent:a"
    assert llm._llm_type == "polyroute"
    for text in (repr(llm), str(llm.asdict()), str(llm._get_invocation_params()),
                 json.dumps(dumpd(llm))):
        assert "sk-secret-value-123" not in text


def test_model_name_alias_and_profile_string() -> None:
    llm = RoutedChatModel(model_name="openai:gpt-4.1", profile="staging",
                          config={"profiles": {"staging": {}}})
    assert llm.model == "openai:gpt-4.1"
    assert llm.config_profile == "staging"
    assert RoutedChatModel(config="polyroute.yaml").config_path == "polyroute.yaml"


def test_api_key_from_provider_env() -> None:
    with mock.patch.dict(os.environ, {"OPENAI_API_KEY": "sk-from-env"}):
        llm = RoutedChatModel(model="openai:gpt-4.1-mini")
        assert llm.api_key is not None and llm.api_key.get_secret_value() == "sk-from-env"
        with_config = RoutedChatModel(model="openai:gpt-4.1-mini", config={"providers": {}})
        assert with_config.api_key is None


@pytest.mark.filterwarnings("ignore::langchain_core._api.beta_decorator.LangChainBetaWarning")
def test_serialisation_round_trip() -> None:
    llm = RoutedChatModel(model="openai:gpt-4.1-mini", api_key="sk-abc-123456", temperature=0)
    data = dumpd(llm)
    assert data["kwargs"]["api_key"] == {"lc": 1, "type": "secret", "id": ["OPENAI_API_KEY"]}
    with mock.patch.dict(os.environ, {"OPENAI_API_KEY": "sk-abc-123456"}):
        loaded = load(data, valid_namespaces=["polyroute"], allowed_objects=[RoutedChatModel],
                      secrets_from_env=True)
    assert isinstance(loaded, RoutedChatModel)
    assert loaded.asdict() == llm.asdict()
    assert loaded.api_key is not None
    assert loaded.api_key.get_secret_value() == "sk-abc-123456"


def test_router_is_built_once_and_closed() -> None:
    llm = RoutedChatModel(model="openai:gpt-4.1-mini", api_key="sk-test-123456",
                          base_url="http://127.0.0.1:9/v1", timeout=5, max_retries=0)
    router = llm.get_router()
    assert llm.get_router() is router
    cfg = router.config  # type: ignore[attr-defined]
    assert cfg.providers["openai"].base_url == "http://127.0.0.1:9/v1"
    assert cfg.providers["openai"].api_key.reveal() == "sk-test-123456"
    assert cfg.retry.attempts == 1
    assert cfg.timeouts.read == 5
    assert "sk-test-123456" not in repr(cfg)
    llm.close()
    assert llm.get_router() is not router


def test_api_key_without_explicit_model_is_a_config_error() -> None:
    from polyroute.errors import ConfigError

    with pytest.raises(ConfigError, match="explicit model"):
        RoutedChatModel(agent="a", api_key="sk-x-123456").get_router()


def test_content_blocks_keep_tool_calls_whoever_answered() -> None:
    # The fake router answers as "anthropic"; the Anthropic v1 translator would
    # drop tool calls from neutral content, so model_provider must not say so.
    call = ToolCallPart(id="c1", name="add", arguments={"a": 1, "b": 2})
    bound = _model(FakeRouter(Message(role="assistant", content=[call]))).bind_tools([add])
    msg = bound.invoke("x")
    assert [b["type"] for b in msg.content_blocks] == ["tool_call"]
    v1 = _model(FakeRouter(Message(role="assistant", content=[call])), output_version="v1")
    full = None
    for c in v1.bind_tools([add]).stream("x"):
        full = c if full is None else full + c
    assert isinstance(full, AIMessageChunk)
    assert [b["type"] for b in full.content_blocks] == ["tool_call"]


def test_from_config_file_with_profile_and_key_override(tmp_path: Any) -> None:
    path = tmp_path / "polyroute.yaml"
    path.write_text(
        "providers:\n"
        "  openai: {type: openai, api_key: env:POLYROUTE_TEST_UNSET_KEY}\n"
        "agents:\n"
        "  pricing_agent: {model: openai:gpt-4.1-mini}\n"
        "profiles:\n"
        "  staging: {retry: {attempts: 2}}\n",
        encoding="utf-8",
    )
    llm = RoutedChatModel.from_config(path, agent="pricing_agent", profile="staging")
    assert (llm.config_path, llm.agent, llm.config_profile) == (str(path), "pricing_agent",
                                                                 "staging")
    cfg = llm.get_router().config  # type: ignore[attr-defined]
    assert cfg.retry.attempts == 2
    assert "pricing_agent" in cfg.agents
    keyed = RoutedChatModel.from_config(path, model="openai:gpt-4.1-mini", api_key="sk-k-123456")
    pcfg = keyed.get_router().config.providers["openai"]  # type: ignore[attr-defined]
    assert pcfg.api_key.reveal() == "sk-k-123456"
    assert pcfg.type == "openai"
