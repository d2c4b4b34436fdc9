"""The Cohere stand-in responder, over loopback HTTP (polyroute.testing.drive)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from polyroute.errors import (
    AuthenticationError,
    InvalidResponseError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from polyroute.providers.base import ProviderSettings
from polyroute.testing import drive
from polyroute.testing.chat import user
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    GenerationParams,
    Message,
    ResponseFormat,
    ToolResultPart,
    ToolSpec,
)
from polyroute_cohere import CohereProvider
from polyroute_cohere.standin import CohereResponder

pytestmark = pytest.mark.standin

KEY = "co-standin-0123456789abcdef"
MODEL = "command-a-03-2025"
WEATHER = ToolSpec(name="get_weather", description="gets the weather",
                   parameters={"type": "object", "properties": {"location": {"type": "string"}},
                               "required": ["location"]})


@pytest.fixture(scope="module")
def server() -> Iterator[StandinServer]:
    with StandinServer(CohereResponder(require_api_key=KEY)) as s:
        yield s


@pytest.fixture
def provider(server: StandinServer) -> CohereProvider:
    server.clear()
    return CohereProvider(ProviderSettings(name="standin", type="cohere", base_url=server.url,
                                           api_key=KEY))



def chat(p: CohereProvider, request: ChatRequest) -> ChatResponse:
    return drive.chat(p, request, MODEL)


def stream(p: CohereProvider, request: ChatRequest) -> list[ChatChunk]:
    return drive.stream(p, request, MODEL)


def test_text_answer_and_stream(provider: CohereProvider, server: StandinServer) -> None:
    r = chat(provider, user("What is an LLM?"))
    assert r.message.text == "Hello from the Cohere stand-in: What is an LLM?"
    assert r.finish_reason == "stop" and r.usage.output_tokens == len(r.message.text.split())
    assert server.requests[-1].path == "/v2/chat"
    chunks = stream(provider, user("Tell me a story about a brave little toaster"))
    assert len([c for c in chunks if c.text]) > 3
    assert "".join(c.text for c in chunks) == (
        "Hello from the Cohere stand-in: Tell me a story about a brave little toaster")
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage is not None


def test_tool_call_then_answer(provider: CohereProvider) -> None:
    r = chat(provider, user("Weather in Toronto?", tools=[WEATHER]))
    [call] = r.message.tool_calls
    assert call.name == "get_weather" and call.arguments == {"location": "example"}
    assert r.provider_metadata["tool_plan"] == "I will use the get_weather tool to answer."
    follow = ChatRequest(tools=[WEATHER], messages=[
        Message.user("Weather in Toronto?"), Message(role="assistant", content=[call]),
        Message(role="tool", content=[ToolResultPart(tool_call_id=call.id, content="5 C")])])
    assert chat(provider, follow).message.text == "The tool returned: 5 C"
    chunks = stream(provider, user("Weather?", tools=[WEATHER]))
    deltas = [d for c in chunks for d in c.tool_calls]
    assert deltas[0].name == "get_weather" and deltas[0].id
    assert json.loads("".join(d.arguments for d in deltas)) == {"location": "example"}
    assert chunks[-1].finish_reason == "tool_calls"
    assert chat(provider, user("x", tools=[WEATHER], tool_choice="none")).message.text


def test_json_and_limits(provider: CohereProvider) -> None:
    schema = {"type": "object", "properties": {"title": {"type": "string"}}}
    r = chat(provider, user("x", response_format=ResponseFormat(type="json_schema",
                                                                json_schema=schema)))
    assert json.loads(r.message.text) == {"title": "example"}
    r = chat(provider, user("one two", params=GenerationParams(max_tokens=3)))
    assert (r.message.text, r.finish_reason) == ("Hello from the", "length")
    r = chat(provider, user("one two", params=GenerationParams(stop=["stand-in"])))
    assert (r.message.text, r.finish_reason) == ("Hello from the Cohere ", "stop")


def test_faults(server: StandinServer, provider: CohereProvider) -> None:
    server.push(Fault.status(429, retry_after=1), Fault.status(499), Fault.malformed())
    with pytest.raises(RateLimitError, match="per minute request limit") as info:
        chat(provider, user("hi"))
    assert info.value.retry_after == 1
    with pytest.raises(ServerError, match="cancelled"):
        chat(provider, user("hi"))
    with pytest.raises(InvalidResponseError):
        chat(provider, user("hi"))
    server.push(Fault.in_band_error(after_chunks=3, message="upstream hiccup"))
    with pytest.raises(ServerError, match="upstream hiccup"):
        stream(provider, user("a b c d e f"))
    server.push(Fault.truncate_stream(after_chunks=3))
    with pytest.raises(StreamInterruptedError):
        stream(provider, user("a b c d e f"))
    server.push(Fault.cut_stream(after_chunks=2))
    with pytest.raises(StreamInterruptedError):
        stream(provider, user("a b c d e f"))


def test_wrong_key(server: StandinServer) -> None:
    p = CohereProvider(ProviderSettings(name="s", type="cohere", base_url=server.url,
                                        api_key="wrong-key-00000000000000"))
    with pytest.raises(AuthenticationError, match="invalid api token"):
        chat(p, user("hi"))


def test_models_endpoint(provider: CohereProvider) -> None:
    req = provider.list_models_request()
    assert req is not None
    assert provider.parse_models(drive.send(req)) == ["command-a-03-2025", "command-r7b-12-2024"]
