"""The OpenAI stand-in responder, over loopback HTTP (polyroute.testing.drive)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from polyroute.errors import (
    AuthenticationError,
    InvalidResponseError,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from polyroute.providers.base import ProviderSettings
from polyroute.secrets import Secret
from polyroute.testing import drive
from polyroute.testing.chat import WEATHER, user
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    GenerationParams,
    Message,
    NamedToolChoice,
    ResponseFormat,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from polyroute_openai import OpenAIProvider
from polyroute_openai.schema_example import example_for_schema
from polyroute_openai.standin import OpenAIResponder

pytestmark = pytest.mark.standin

KEY = "sk-standin-0123456789abcdef"


@pytest.fixture(scope="module")
def server() -> Iterator[StandinServer]:
    with StandinServer(OpenAIResponder(require_api_key=KEY)) as s:
        yield s


@pytest.fixture
def provider(server: StandinServer) -> OpenAIProvider:
    server.clear()
    return OpenAIProvider(ProviderSettings(name="standin", type="openai",
                                           base_url=server.url + "/v1", api_key=Secret(KEY)))




def chat(p: OpenAIProvider, request: ChatRequest, model: str = "gpt-4.1") -> ChatResponse:
    return drive.chat(p, request, model)


def stream(p: OpenAIProvider, request: ChatRequest, model: str = "gpt-4.1") -> list[ChatChunk]:
    return drive.stream(p, request, model)


def test_text_answer_echoes_user(provider: OpenAIProvider) -> None:
    r = chat(provider, user("What is the capital of France?"))
    assert r.message.text == "Hello from the OpenAI stand-in: What is the capital of France?"
    assert r.finish_reason == "stop"
    assert r.usage.output_tokens == len(r.message.text.split())
    assert r.usage.input_tokens > 0
    assert r.response_id and r.response_id.startswith("chatcmpl-")
    assert r.provider_metadata["system_fingerprint"] == "fp_standin"


def test_streamed_text_matches(provider: OpenAIProvider) -> None:
    chunks = stream(provider, user("Tell me a story about a brave little toaster"))
    texts = [c.text for c in chunks if c.text]
    assert len(texts) > 3
    assert "".join(texts) == (
        "Hello from the OpenAI stand-in: Tell me a story about a brave little toaster")
    assert chunks[-1].usage is not None and chunks[-1].usage.output_tokens > 0
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]


def test_tool_call_from_schema(provider: OpenAIProvider) -> None:
    r = chat(provider, user("Weather in Paris?", tools=[WEATHER]))
    assert r.finish_reason == "tool_calls"
    (call,) = r.message.tool_calls
    assert call.name == "get_weather"
    assert call.arguments == {"city": "example", "days": 3}


def test_streamed_tool_call_fragments(provider: OpenAIProvider) -> None:
    chunks = stream(provider, user("Weather?", tools=[WEATHER]))
    deltas = [d for c in chunks for d in c.tool_calls]
    assert len(deltas) > 2 and deltas[0].name == "get_weather" and deltas[0].id
    assert json.loads("".join(d.arguments for d in deltas)) == {"city": "example", "days": 3}
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["tool_calls"]


def test_forced_tool_and_none(provider: OpenAIProvider) -> None:
    other = ToolSpec(name="lookup", parameters={"type": "object", "properties": {
        "ok": {"type": "boolean"}}})
    r = chat(provider, user("x", tools=[WEATHER, other],
                            tool_choice=NamedToolChoice(name="lookup")))
    assert r.message.tool_calls[0].name == "lookup"
    assert r.message.tool_calls[0].arguments == {"ok": True}
    r = chat(provider, user("x", tools=[WEATHER], tool_choice="none"))
    assert r.message.tool_calls == [] and r.finish_reason == "stop"
    with pytest.raises(ProviderError):
        chat(provider, user("x", tools=[WEATHER], tool_choice=NamedToolChoice(name="nope")))


def test_answer_after_tool_result(provider: OpenAIProvider) -> None:
    request = ChatRequest(tools=[WEATHER], messages=[
        Message.user("Weather in Paris?"),
        Message(role="assistant", content=[ToolCallPart(id="c1", name="get_weather",
                                                        arguments={"city": "Paris"})]),
        Message(role="tool", content=[ToolResultPart(tool_call_id="c1", content="22C sunny")]),
    ])
    r = chat(provider, request)
    assert r.message.text == "The tool returned: 22C sunny"
    assert r.finish_reason == "stop"


def test_json_schema_and_json_object(provider: OpenAIProvider) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"},
                                               "tags": {"type": "array",
                                                        "items": {"type": "string"}}},
              "required": ["name", "tags"], "additionalProperties": False}
    r = chat(provider, user("Person?", response_format=ResponseFormat(
        type="json_schema", name="person", json_schema=schema, strict=True)))
    assert json.loads(r.message.text) == {"name": "example", "tags": ["example"]}
    r = chat(provider, user("hi", response_format=ResponseFormat(type="json_object")))
    assert json.loads(r.message.text) == {"answer": "Hello from the OpenAI stand-in: hi"}


def test_stop_and_max_tokens(provider: OpenAIProvider) -> None:
    r = chat(provider, user("one two three", params=GenerationParams(stop=["stand-in"])))
    assert r.message.text == "Hello from the OpenAI " and r.finish_reason == "stop"
    r = chat(provider, user("one two three", params=GenerationParams(max_tokens=3)))
    assert r.message.text == "Hello from the" and r.finish_reason == "length"
    assert r.usage.output_tokens == 3


def test_fixed_and_callable_reply() -> None:
    def reply(body: dict[str, Any]) -> str:
        return f"model={body['model']}"

    for responder, expected in ((OpenAIResponder(model_reply="Fixed."), "Fixed."),
                                (OpenAIResponder(model_reply=reply), "model=gpt-4o")):
        with StandinServer(responder) as s:
            p = OpenAIProvider(ProviderSettings(name="s", type="openai",
                                                base_url=s.url + "/v1", api_key=Secret("k")))
            assert chat(p, user("hi"), model="gpt-4o").message.text == expected


def test_rate_limit_fault(server: StandinServer, provider: OpenAIProvider) -> None:
    server.push(Fault.status(429, retry_after=2))
    with pytest.raises(RateLimitError) as info:
        chat(provider, user("hi"))
    assert info.value.retry_after == 2 and info.value.request_id == "req_standin_err429"
    server.push(Fault.status(429))
    with pytest.raises(RateLimitError) as info:
        chat(provider, user("hi"))
    assert info.value.retry_after == pytest.approx(0.02)  # x-ratelimit-reset-requests: 20ms
    assert chat(provider, user("hi")).finish_reason == "stop"  # then normal answers resume


def test_server_error_and_malformed(server: StandinServer, provider: OpenAIProvider) -> None:
    server.push(Fault.status(500), Fault.malformed())
    with pytest.raises(ServerError):
        chat(provider, user("hi"))
    with pytest.raises(InvalidResponseError):
        chat(provider, user("hi"))


def test_wrong_key(server: StandinServer) -> None:
    p = OpenAIProvider(ProviderSettings(name="s", type="openai", base_url=server.url + "/v1",
                                        api_key=Secret("sk-wrong-0000000000000000")))
    with pytest.raises(AuthenticationError) as info:
        chat(p, user("hi"))
    assert "sk-wrong-0000000000000000" not in str(info.value)


def test_stream_faults(server: StandinServer, provider: OpenAIProvider) -> None:
    server.push(Fault.truncate_stream(after_chunks=3))
    with pytest.raises(StreamInterruptedError):
        stream(provider, user("a b c d e f g"))
    server.push(Fault.in_band_error(after_chunks=2, message="upstream hiccup"))
    with pytest.raises(ServerError, match="upstream hiccup"):
        stream(provider, user("a b c d e f g"))
    server.push(Fault.cut_stream(after_chunks=2))
    with pytest.raises(StreamInterruptedError):
        stream(provider, user("a b c d e f g"))


def test_models_endpoint(provider: OpenAIProvider) -> None:
    req = provider.list_models_request()
    assert req is not None
    assert "gpt-4.1" in provider.parse_models(drive.send(req))


def test_request_bodies_reach_the_server(server: StandinServer,
                                         provider: OpenAIProvider) -> None:
    chat(provider, user("hi", params=GenerationParams(max_tokens=5)))
    seen = server.requests[-1]
    assert seen.path == "/v1/chat/completions"
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert seen.json()["max_completion_tokens"] == 5


@pytest.mark.parametrize(("schema", "value"), [
    ({"type": "string", "enum": ["b", "a"]}, "b"),
    ({"type": ["integer", "null"], "minimum": 10}, 10),
    ({"type": "number", "maximum": 1}, 1.0),
    ({"anyOf": [{"type": "null"}, {"type": "boolean"}]}, True),
    ({"$defs": {"P": {"type": "object", "properties": {"n": {"type": "string",
                                                             "format": "date"}}}},
      "type": "object", "properties": {"p": {"$ref": "#/$defs/P"},
                                       "l": {"type": "array", "minItems": 2,
                                             "items": {"const": 1}}}},
     {"p": {"n": "2024-01-01"}, "l": [1, 1]}),
    ({"allOf": [{"properties": {"a": {"type": "integer"}}},
                {"properties": {"b": {"type": "string"}}}]}, {"a": 3, "b": "example"}),
    ({"$ref": "#/definitions/Node", "definitions": {"Node": {
        "type": "object", "properties": {"child": {"$ref": "#/definitions/Node"}}}}},
     {"child": {"child": {"child": {"child": {"child": {"child": {"child": {"child": {}}}}}}}}}),
])
def test_schema_examples(schema: dict[str, Any], value: Any) -> None:
    assert example_for_schema(schema) == value
