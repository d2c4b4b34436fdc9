"""AnthropicResponder on a loopback StandinServer (polyroute.testing.drive)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from polyroute.errors import (
    AuthenticationError,
    BadRequestError,
    OverloadedError,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from polyroute.framing import SSEDecoder
from polyroute.providers.base import HttpRequest, ProviderSettings
from polyroute.testing import drive, wire
from polyroute.testing.schema_example import example_for
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
from polyroute_anthropic import AnthropicProvider
from polyroute_anthropic.standin import AnthropicResponder

pytestmark = pytest.mark.standin
MODEL = "claude-haiku-4-5"
KEY = "sk-ant-standin-key-0123456789"


@pytest.fixture(scope="module")
def server() -> Iterator[StandinServer]:
    with StandinServer(AnthropicResponder()) as srv:
        yield srv


@pytest.fixture
def prov(server: StandinServer) -> AnthropicProvider:
    server.clear()
    return AnthropicProvider(ProviderSettings(
        name="anthropic", type="anthropic", api_key=KEY, base_url=server.url))



def call(prov: AnthropicProvider, req: ChatRequest) -> ChatResponse:
    return drive.chat(prov, req, MODEL)


def stream(prov: AnthropicProvider, req: ChatRequest) -> list[ChatChunk]:
    return drive.stream(prov, req, MODEL)


WEATHER = ToolSpec(name="get_weather", description="Weather", parameters={
    "type": "object",
    "properties": {"location": {"type": "string"},
                   "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
    "required": ["location"]})


def test_text_answer(prov: AnthropicProvider, server: StandinServer) -> None:
    resp = call(prov, ChatRequest(messages=[Message.system("Be brief."), Message.user("Hi!")]))
    assert resp.message.text == "Hello from the Anthropic stand-in: Hi!"
    assert resp.finish_reason == "stop"
    assert resp.response_id and resp.response_id.startswith("msg_")
    assert resp.response_model == MODEL
    assert resp.usage.input_tokens > 0 and resp.usage.output_tokens == 6
    sent = server.requests[-1]
    assert sent.path == "/v1/messages"
    assert sent.headers["x-api-key"] == KEY
    assert sent.headers["anthropic-version"] == "2023-06-01"
    assert sent.json()["system"] == "Be brief."


def test_deterministic(prov: AnthropicProvider) -> None:
    req = ChatRequest(messages=[Message.user("same")])
    assert call(prov, req).model_dump() == call(prov, req).model_dump()


def test_streamed_text_equals_full_answer(prov: AnthropicProvider, server: StandinServer) -> None:
    req = ChatRequest(messages=[Message.user("stream me please")])
    full = call(prov, req)
    chunks = stream(prov, req)
    assert "".join(c.text for c in chunks) == full.message.text
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.output_tokens == full.usage.output_tokens


def test_stream_has_full_event_sequence() -> None:
    responder = AnthropicResponder()
    message = responder.message(
        {"model": MODEL, "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}, b"x")
    decoder = SSEDecoder()
    names = [e.event for chunk in responder.events(message) for e in decoder.feed(chunk)]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert names[-4:] == ["content_block_delta", "content_block_stop", "message_delta",
                          "message_stop"]


def test_tool_use_answer(prov: AnthropicProvider) -> None:
    resp = call(prov, ChatRequest(messages=[Message.user("Weather in Paris?")], tools=[WEATHER]))
    assert resp.finish_reason == "tool_calls"
    [tc] = resp.message.tool_calls
    assert tc.name == "get_weather" and tc.id.startswith("toolu_")
    assert tc.arguments == {"location": "example", "unit": "celsius"}


def test_tool_use_streamed(prov: AnthropicProvider) -> None:
    chunks = stream(prov, ChatRequest(messages=[Message.user("w?")], tools=[WEATHER]))
    deltas = [d for c in chunks for d in c.tool_calls]
    assert deltas[0].name == "get_weather" and deltas[0].id
    assert len(deltas) >= 3  # id/name, then input_json_delta fragments
    assert json.loads("".join(d.arguments for d in deltas)) == {
        "location": "example", "unit": "celsius"}
    assert chunks[-1].finish_reason == "tool_calls"


def test_forced_tool_choice_is_honoured(prov: AnthropicProvider) -> None:
    other = ToolSpec(name="lookup", parameters={"type": "object", "properties": {
        "n": {"type": "integer"}}})
    resp = call(prov, ChatRequest(messages=[Message.user("x")], tools=[WEATHER, other],
                                  tool_choice=NamedToolChoice(name="lookup")))
    assert [(t.name, t.arguments) for t in resp.message.tool_calls] == [("lookup", {"n": 3})]
    none = call(prov, ChatRequest(messages=[Message.user("x")], tools=[WEATHER],
                                  tool_choice="none"))
    assert none.message.tool_calls == [] and none.finish_reason == "stop"


def test_tool_result_round_trip(prov: AnthropicProvider) -> None:
    req = ChatRequest(tools=[WEATHER], messages=[
        Message.user("Weather in Paris?"),
        Message(role="assistant", content=[
            ToolCallPart(id="toolu_1", name="get_weather", arguments={"location": "Paris"})]),
        Message(role="tool", content=[ToolResultPart(tool_call_id="toolu_1", content="21C")]),
    ])
    resp = call(prov, req)
    assert resp.message.text == "The tool returned: 21C"
    assert resp.finish_reason == "stop"


def test_json_schema_emulation_end_to_end(prov: AnthropicProvider) -> None:
    fmt = ResponseFormat(type="json_schema", name="Person", json_schema={
        "type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"]})
    req = ChatRequest(messages=[Message.user("Who?")], response_format=fmt)
    resp = call(prov, req)
    assert json.loads(resp.message.text) == {"name": "example", "age": 3}
    assert resp.finish_reason == "stop"
    streamed = "".join(c.text for c in stream(prov, req))
    assert json.loads(streamed) == {"name": "example", "age": 3}


def test_stop_sequences_and_max_tokens(prov: AnthropicProvider) -> None:
    stopped = call(prov, ChatRequest(messages=[Message.user("one two three")],
                                     params=GenerationParams(stop=["two"])))
    assert stopped.message.text == "Hello from the Anthropic stand-in: one "
    assert stopped.finish_reason == "stop"
    assert stopped.provider_metadata["stop_sequence"] == "two"
    cut = call(prov, ChatRequest(messages=[Message.user("one two three")],
                                 params=GenerationParams(max_tokens=3)))
    assert cut.message.text == "Hello from the"
    assert cut.finish_reason == "length"
    assert cut.usage.output_tokens == 3


def test_missing_max_tokens_and_key_are_rejected(server: StandinServer) -> None:
    r = wire.send(HttpRequest("POST", f"{server.url}/v1/messages", headers={"x-api-key": "k"},
                              json={"model": MODEL, "messages": []}))
    assert r.status == 400
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in r.json()["error"]["message"]
    r = wire.send(HttpRequest("POST", f"{server.url}/v1/messages", json={"model": MODEL}))
    assert r.status == 401
    assert r.json()["error"]["type"] == "authentication_error"


@pytest.mark.parametrize(
    ("status", "cls", "error_type"),
    [(529, OverloadedError, "overloaded_error"), (429, RateLimitError, "rate_limit_error"),
     (500, ServerError, "api_error"), (401, AuthenticationError, "authentication_error"),
     (400, BadRequestError, "invalid_request_error")],
)
def test_faults_in_anthropic_format(
    prov: AnthropicProvider, server: StandinServer, status: int,
    cls: type[ProviderError], error_type: str,
) -> None:
    server.push(Fault.status(status, retry_after=2, message="injected"))
    with pytest.raises(cls) as info:
        call(prov, ChatRequest(messages=[Message.user("x")]))
    err = info.value
    assert type(err) is cls
    assert (err.status, err.error_type) == (status, error_type)
    assert err.request_id and err.request_id.startswith("req_standin_")
    if status in (429, 529, 500):
        assert err.retry_after == 2.0


def test_malformed_fault_is_invalid_response(prov: AnthropicProvider,
                                             server: StandinServer) -> None:
    from polyroute.errors import InvalidResponseError

    server.push(Fault.malformed())
    with pytest.raises(InvalidResponseError):
        call(prov, ChatRequest(messages=[Message.user("x")]))


def test_in_band_error_fault(prov: AnthropicProvider, server: StandinServer) -> None:
    server.push(Fault.in_band_error(after_chunks=3, message="Overloaded"))
    with pytest.raises(OverloadedError, match="Overloaded"):
        stream(prov, ChatRequest(messages=[Message.user("x y z")]))


def test_truncated_stream_is_interrupted(prov: AnthropicProvider, server: StandinServer) -> None:
    server.push(Fault.truncate_stream(after_chunks=4))
    with pytest.raises(StreamInterruptedError, match="message_stop"):
        stream(prov, ChatRequest(messages=[Message.user("x y z")]))


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"type": "string"}, "example"),
        ({"type": "integer"}, 3),
        ({"type": "number"}, 1.5),
        ({"type": "boolean"}, True),
        ({"type": ["null", "integer"]}, 3),
        ({"enum": ["b", "a"]}, "b"),
        ({"const": 7}, 7),
        ({"type": "array", "items": {"type": "integer"}}, [3]),
        ({"type": "object", "properties": {"a": {"type": "object", "properties": {
            "b": {"type": "array", "items": {"type": "string"}}}}}}, {"a": {"b": ["example"]}}),
        ({"type": "object", "required": ["x"]}, {"x": "example"}),
        ({"anyOf": [{"type": "null"}, {"type": "number"}]}, 1.5),
        ({"oneOf": [{"type": "boolean"}, {"type": "string"}]}, True),
        ({"$defs": {"P": {"type": "object", "properties": {"n": {"type": "integer"}}}},
          "type": "object", "properties": {"p": {"$ref": "#/$defs/P"}}}, {"p": {"n": 3}}),
        ({"definitions": {"S": {"type": "string"}}, "$ref": "#/definitions/S"}, "example"),
        ({"allOf": [{"properties": {"a": {"type": "integer"}}},
                    {"properties": {"b": {"type": "boolean"}}}]}, {"a": 3, "b": True}),
        ({"$defs": {"N": {"type": "object", "properties": {"next": {"$ref": "#/$defs/N"}}}},
          "$ref": "#/$defs/N"}, None),  # recursion stops
    ],
)
def test_schema_example(schema: dict[str, Any], expected: Any) -> None:
    result = example_for(schema)
    if expected is None:
        depth = 0
        while isinstance(result, dict) and "next" in result:
            result, depth = result["next"], depth + 1
        assert depth <= 10
    else:
        assert result == expected


def test_run_stream_fixture_on_responder_bytes(
    run_stream: Callable[[Any, bytes], list[ChatChunk]],
) -> None:
    responder = AnthropicResponder()
    message = responder.message({"model": MODEL, "max_tokens": 100, "messages": [
        {"role": "user", "content": "bytes"}]}, b"raw")
    provider = AnthropicProvider(ProviderSettings(name="a", type="anthropic", api_key=KEY))
    chunks = run_stream(provider.stream_parser(MODEL), b"".join(responder.events(message)))
    assert "".join(c.text for c in chunks) == message["content"][0]["text"]
