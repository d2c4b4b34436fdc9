"""Cassette replay: hand-written interactions from Ollama's API reference, through the provider.

Each test sends the provider's request to ``http://localhost:11434/api/chat``
through polyroute's ``Transport`` (``polyroute.testing.wire``); vcrpy answers
from ``cassettes/ollama_wire/<test name>.yaml`` (record mode ``none``: no
network) and the provider parses the answer. Each cassette names the section
of https://github.com/ollama/ollama/blob/main/docs/api.md or
https://docs.ollama.com/api/errors it was written from.
"""

from __future__ import annotations

import json

import pytest

from polyroute.errors import (
    AuthenticationError,
    ContextWindowError,
    NotFoundError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from polyroute.providers.base import HttpRequest, HttpResponse, ProviderSettings
from polyroute.testing import wire
from polyroute.testing.streams import parse_events
from polyroute.types import (
    ChatChunk,
    ChatRequest,
    GenerationParams,
    Message,
    ResponseFormat,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from polyroute_ollama import OllamaProvider
from polyroute_ollama.parse import tool_call_id

pytestmark = pytest.mark.vcr

WEATHER = ToolSpec(
    name="get_weather",
    description="Get the weather in a given city",
    parameters={
        "type": "object",
        "properties": {"city": {"type": "string",
                                "description": "The city to get the weather for"}},
        "required": ["city"],
    },
)
SKY = [Message.user("why is the sky blue?")]
AGE_SCHEMA = {
    "type": "object",
    "properties": {"age": {"type": "integer"}, "available": {"type": "boolean"}},
    "required": ["age", "available"],
}

# name -> (request, model, stream): also used to write the cassettes' request bodies.
REQUESTS: dict[str, tuple[ChatRequest, str, bool]] = {
    "test_text_response": (ChatRequest(messages=SKY), "llama3.2", False),
    "test_streaming": (ChatRequest(messages=SKY), "llama3.2", True),
    "test_tool_call": (
        ChatRequest(messages=[Message.user("what is the weather in tokyo?")], tools=[WEATHER]),
        "llama3.2", False),
    "test_tool_call_streaming": (
        ChatRequest(messages=[Message.user("what is the weather in tokyo?")], tools=[WEATHER]),
        "llama3.2", True),
    "test_tool_result_round_trip": (
        ChatRequest(tools=[WEATHER], messages=[
            Message.user("what is the weather in Toronto?"),
            Message(role="assistant", content=[ToolCallPart(
                id="call_0_toronto", name="get_weather", arguments={"city": "Toronto"})]),
            Message(role="tool", content=[ToolResultPart(
                tool_call_id="call_0_toronto", content="11 degrees celsius")]),
        ]),
        "llama3.2", False),
    "test_structured_output": (
        ChatRequest(
            messages=[Message.user("Ollama is 22 years old and busy saving the world. "
                                   "Return a JSON object with the age and availability.")],
            response_format=ResponseFormat(type="json_schema", name="Age",
                                           json_schema=AGE_SCHEMA),
            params=GenerationParams(temperature=0)),
        "llama3.1", False),
    "test_model_not_found_404": (ChatRequest(messages=SKY), "llama3.3", False),
    "test_server_error_500": (ChatRequest(messages=SKY), "gemma3", False),
    "test_rate_limited_429": (ChatRequest(messages=SKY), "gpt-oss:120b-cloud", False),
    "test_unauthorized_401": (ChatRequest(messages=SKY), "gpt-oss:20b-cloud", False),
    "test_context_overflow_400": (
        ChatRequest(messages=SKY, params=GenerationParams(extra={"num_ctx": 16})),
        "llama3.2", False),
    "test_error_mid_stream": (ChatRequest(messages=SKY), "gemma3", True),
}


@pytest.fixture
def prov(monkeypatch: pytest.MonkeyPatch) -> OllamaProvider:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    return OllamaProvider(ProviderSettings(name="ollama", type="ollama"))


def post(http: HttpRequest) -> HttpResponse:
    assert http.url == "http://localhost:11434/api/chat"
    return wire.send(http)


def run(prov: OllamaProvider, name: str) -> HttpResponse:
    request, model, stream = REQUESTS[name]
    assert not stream
    return post(prov.build_request(request, model, stream=False))


def run_stream(prov: OllamaProvider, name: str) -> wire.StreamReply:
    request, model, stream = REQUESTS[name]
    assert stream
    http = prov.build_request(request, model, stream=True)
    assert http.url == "http://localhost:11434/api/chat"
    return wire.open_stream(http)


def stream_chunks(prov: OllamaProvider, reply: wire.StreamReply, model: str) -> list[ChatChunk]:
    return parse_events(prov.stream_parser(model), reply.events)


def test_text_response(prov: OllamaProvider) -> None:
    out = prov.parse_response(run(prov, "test_text_response"), "llama3.2")
    assert out.message.text == "Hello! How are you today?"
    assert out.finish_reason == "stop"  # this example predates done_reason
    assert (out.usage.input_tokens, out.usage.output_tokens) == (26, 298)
    assert out.provider_metadata["total_duration"] == 5191566416
    assert out.response_model == "llama3.2"


def test_streaming(prov: OllamaProvider) -> None:
    reply = run_stream(prov, "test_streaming")
    assert reply.headers["content-type"] == "application/x-ndjson"
    chunks = stream_chunks(prov, reply, "llama3.2")
    assert "".join(c.text for c in chunks) == "The sky is blue because of Rayleigh scattering."
    final = chunks[-1]
    assert final.finish_reason == "stop"
    assert final.usage is not None
    assert (final.usage.input_tokens, final.usage.output_tokens) == (26, 282)


def test_tool_call(prov: OllamaProvider) -> None:
    out = prov.parse_response(run(prov, "test_tool_call"), "llama3.2")
    assert out.finish_reason == "tool_calls"
    [call] = out.message.tool_calls
    assert (call.name, call.arguments) == ("get_weather", {"city": "Tokyo"})
    assert call.id == tool_call_id(0, "get_weather", {"city": "Tokyo"})
    assert (out.usage.input_tokens, out.usage.output_tokens) == (169, 18)


def test_tool_call_streaming(prov: OllamaProvider) -> None:
    reply = run_stream(prov, "test_tool_call_streaming")
    chunks = stream_chunks(prov, reply, "llama3.2")
    [delta] = [d for c in chunks for d in c.tool_calls]
    assert (delta.index, delta.name) == (0, "get_weather")
    assert json.loads(delta.arguments) == {"city": "Tokyo"}
    # the same stable id the non-streamed answer (test_tool_call) gets
    assert delta.id == tool_call_id(0, "get_weather", {"city": "Tokyo"})
    assert chunks[-1].finish_reason == "tool_calls"


def test_tool_result_round_trip(prov: OllamaProvider) -> None:
    request, model, _ = REQUESTS["test_tool_result_round_trip"]
    body = prov.build_request(request, model, stream=False).json
    assert body["messages"][2] == {"role": "tool", "content": "11 degrees celsius",
                                   "tool_name": "get_weather"}
    out = prov.parse_response(run(prov, "test_tool_result_round_trip"), model)
    assert out.message.text == "The current temperature in Toronto is 11°C."
    assert out.finish_reason == "stop"


def test_structured_output(prov: OllamaProvider) -> None:
    out = prov.parse_response(run(prov, "test_structured_output"), "llama3.1")
    assert json.loads(out.message.text) == {"age": 22, "available": False}


def test_model_not_found_404(prov: OllamaProvider) -> None:
    resp = run(prov, "test_model_not_found_404")
    err = prov.parse_error(resp, "llama3.3")
    assert type(err) is NotFoundError
    assert err.status == 404 and "not found" in err.reason
    assert not err.retryable and err.fallbackable


def test_server_error_500(prov: OllamaProvider) -> None:
    err = prov.parse_error(run(prov, "test_server_error_500"), "gemma3")
    assert type(err) is ServerError and err.retryable
    assert err.reason == "the model failed to generate a response"


def test_rate_limited_429(prov: OllamaProvider) -> None:
    err = prov.parse_error(run(prov, "test_rate_limited_429"), "gpt-oss:120b-cloud")
    assert type(err) is RateLimitError and err.retryable
    assert err.retry_after == 7.0


def test_unauthorized_401(prov: OllamaProvider) -> None:
    err = prov.parse_error(run(prov, "test_unauthorized_401"), "gpt-oss:20b-cloud")
    assert type(err) is AuthenticationError and err.status == 401


def test_context_overflow_400(prov: OllamaProvider) -> None:
    err = prov.parse_error(run(prov, "test_context_overflow_400"), "llama3.2")
    assert type(err) is ContextWindowError and err.fallbackable


def test_error_mid_stream(prov: OllamaProvider) -> None:
    reply = run_stream(prov, "test_error_mid_stream")
    assert reply.status == 200
    parser = prov.stream_parser("gemma3")
    seen: list[ChatChunk] = []
    with pytest.raises(StreamInterruptedError, match="error was encountered"):
        for event in reply.events:
            seen.extend(parser.feed(event))
    assert "".join(c.text for c in seen) == " Yes. I can"
