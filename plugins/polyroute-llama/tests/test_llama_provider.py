"""polyroute-llama: request building, parsing, streams and errors through its stand-in
(the wire format itself is checked against llama-api-client in
tests/conformance/test_conformance_llama.py)."""

from __future__ import annotations

import contextlib
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyroute.errors import (
    AuthenticationError,
    BadRequestError,
    InvalidResponseError,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from polyroute.plugins import PluginRegistry
from polyroute.plugins.known import KNOWN_PLUGINS
from polyroute.providers.base import HttpResponse, ProviderSettings, StreamEvent
from polyroute.secrets import Secret
from polyroute.testing import drive
from polyroute.testing.chat import WEATHER, user
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import (
    ChatRequest,
    GenerationParams,
    Message,
    ResponseFormat,
    ToolCallPart,
    ToolResultPart,
)
from polyroute_llama import LlamaProvider, plugin
from polyroute_llama.standin import LlamaResponder

KEY = "LLM|secret-llama-key-1234567890"
MODEL = "Llama-3.3-70B-Instruct"


def _provider(url: str | None = None) -> LlamaProvider:
    return LlamaProvider(ProviderSettings(name="meta", type="llama", api_key=Secret(KEY),
                                          base_url=url))


def test_request_shape_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLAMA_API_CLIENT_BASE_URL", raising=False)
    req = _provider().build_request(
        user("hi", params=GenerationParams(max_tokens=9, top_k=5, temperature=0.1,
                                           extra={"repetition_penalty": 1.1})),
        MODEL, stream=True)
    assert req.url == "https://api.llama.com/v1/chat/completions"
    assert req.headers["Authorization"] == f"Bearer {KEY}"
    assert req.json == {"model": MODEL, "messages": [{"role": "user", "content": "hi"}],
                        "temperature": 0.1, "top_k": 5, "max_completion_tokens": 9,
                        "repetition_penalty": 1.1, "stream": True}
    assert KEY not in repr(req) and KEY not in repr(_provider())


def test_tool_round_trip_and_json_mode_shapes() -> None:
    req = ChatRequest(messages=[
        Message.user("weather?"),
        Message(role="assistant", content=[ToolCallPart(id="c1", name="get_weather",
                                                        arguments={"city": "Oslo"})]),
        Message(role="tool", content=[ToolResultPart(tool_call_id="c1", content="3C")])],
        tools=[WEATHER], response_format=ResponseFormat(type="json_object"))
    body = _provider().build_request(req, MODEL, stream=False).json
    assert body["messages"][1] == {"role": "assistant", "tool_calls": [
        {"id": "c1", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}}]}
    assert body["messages"][2] == {"role": "tool", "tool_call_id": "c1", "content": "3C"}
    # no json_object in the API: JSON mode is a schema of any object
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "response", "schema": {"type": "object"}}}


def test_a_tool_message_without_results_is_a_clear_error() -> None:
    with pytest.raises(BadRequestError, match="tool message"):
        _provider().build_request(ChatRequest(messages=[Message(role="tool", content="x")]),
                                  MODEL, stream=False)


def test_answers_streams_and_tools_through_the_stand_in() -> None:
    with StandinServer(LlamaResponder()) as server:
        p = _provider(server.url + "/v1")
        r = drive.chat(p, user("hello llama", params=GenerationParams(max_tokens=3)), MODEL)
        assert r.message.text == "Hello from the" and r.finish_reason == "length"
        assert r.usage.output_tokens == 3 and r.usage.input_tokens > 0
        chunks = drive.stream(p, user("stream it", tools=[WEATHER]), MODEL)
        calls = [d for c in chunks for d in c.tool_calls]
        assert calls[0].id and calls[0].name == "get_weather"
        assert json.loads("".join(d.arguments for d in calls))["city"] == "example"
        assert chunks[-1].usage is not None and any(c.finish_reason == "tool_calls"
                                                    for c in chunks)
        assert p.parse_models(drive.send(p.list_models_request())) == [
            "Llama-4-Maverick-17B-128E-Instruct-FP8", "Llama-3.3-70B-Instruct"]


@pytest.mark.parametrize(("status", "cls"), [(401, AuthenticationError), (429, RateLimitError),
                                             (500, ServerError), (400, BadRequestError)])
def test_errors_are_classified_with_their_message(status: int,
                                                  cls: type[ProviderError]) -> None:
    with StandinServer(LlamaResponder()) as server:
        server.push(Fault.status(status, retry_after=2, message="nope"))
        with pytest.raises(cls, match="nope") as info:
            drive.chat(_provider(server.url + "/v1"), user("hi"), MODEL)
        assert info.value.status == status and KEY not in str(info.value)


def test_a_cut_stream_and_an_in_band_error_are_typed() -> None:
    with StandinServer(LlamaResponder()) as server:
        p = _provider(server.url + "/v1")
        server.push(Fault.truncate_stream(after_chunks=2))
        with pytest.raises(StreamInterruptedError, match="complete"):
            drive.stream(p, user("hi there"), MODEL)
        server.push(Fault.in_band_error(after_chunks=1, message="overloaded"))
        with pytest.raises(StreamInterruptedError, match="overloaded"):
            drive.stream(p, user("hi there"), MODEL)


def test_the_stand_in_refuses_fields_the_api_lacks() -> None:
    with StandinServer(LlamaResponder()) as server:
        req = _provider(server.url + "/v1").build_request(user("hi"), MODEL, stream=False)
        resp = drive.send(type(req)(req.method, req.url, req.headers,
                                    {**req.json, "stop": ["x"]}))
        assert resp.status == 400 and b"stop" in resp.content


@pytest.mark.parametrize("value", [-1, 1.5, math.inf, "seven", 10**40])
def test_nonsense_token_counts_are_invalid_responses(value: object) -> None:
    body = {"completion_message": {"role": "assistant", "content": "x", "stop_reason": "stop"},
            "metrics": [{"metric": "num_prompt_tokens", "value": value}]}
    raw = json.dumps(body, allow_nan=True).encode()
    with pytest.raises(InvalidResponseError, match="num_prompt_tokens"):
        _provider().parse_response(HttpResponse(200, {}, raw), MODEL)


@settings(max_examples=300, deadline=None, database=None)
@given(st.one_of(st.binary(max_size=300), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["id", "event", "event_type", "delta", "type", "text", "metrics",
                         "completion_message", "content", "tool_calls", "function",
                         "stop_reason", "metric", "value", "detail"]), inner, max_size=5),
    max_leaves=30).map(lambda v: json.dumps(v).encode())))
def test_hostile_bodies_raise_only_typed_errors(raw: bytes) -> None:
    p = _provider()
    for parse in (lambda: p.parse_response(HttpResponse(200, {}, raw), MODEL),
                  lambda: p.parse_error(HttpResponse(500, {}, raw), MODEL),
                  lambda: list(p.stream_parser(MODEL).feed(
                      StreamEvent(raw.decode("utf-8", "replace"))))):
        with contextlib.suppress(ProviderError):
            parse()


def test_registered_with_its_catalog() -> None:
    registry = PluginRegistry.create(load_entrypoints=False, plugins=[plugin])
    assert "llama" in registry.provider_types
    infos = [m for m in registry.models if m.provider_type == "llama"] if isinstance(
        registry.models, list) else list(registry.models.values())
    assert infos and all(i.prices.input is None for i in infos)  # Meta publishes none
    # a config naming the type without the plugin installed is told what to install
    assert KNOWN_PLUGINS["llama"] == "polyroute-llama"
