"""The Gemini stand-in responder, over loopback HTTP (polyroute.testing.drive)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from polyroute.errors import (
    AuthenticationError,
    ContentPolicyError,
    InvalidResponseError,
    OverloadedError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from polyroute.providers.base import HttpRequest, ProviderSettings
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
from polyroute_gemini import GeminiProvider, VertexGeminiProvider
from polyroute_gemini.standin import GeminiResponder

pytestmark = pytest.mark.standin

KEY = "AIzaSy-standin-0123456789abcdef"


@pytest.fixture(scope="module")
def server() -> Iterator[StandinServer]:
    with StandinServer(GeminiResponder(require_api_key=KEY, blocked_words=("forbidden",))) as s:
        yield s


@pytest.fixture
def provider(server: StandinServer) -> GeminiProvider:
    server.clear()
    return GeminiProvider(ProviderSettings(name="standin", type="gemini", base_url=server.url,
                                           api_key=KEY))



def chat(p: GeminiProvider, request: ChatRequest, model: str = "gemini-2.5-flash"
         ) -> ChatResponse:
    return drive.chat(p, request, model)


def stream(p: GeminiProvider, request: ChatRequest, model: str = "gemini-2.5-flash"
           ) -> list[ChatChunk]:
    return drive.stream(p, request, model)


def test_text_answer(provider: GeminiProvider, server: StandinServer) -> None:
    r = chat(provider, user("What is the capital of France?"))
    assert r.message.text == "Hello from the Gemini stand-in: What is the capital of France?"
    assert r.finish_reason == "stop"
    assert r.usage.output_tokens == len(r.message.text.split()) and r.usage.input_tokens > 0
    assert r.response_model == "gemini-2.5-flash" and r.response_id
    seen = server.requests[-1]
    assert seen.path == "/v1beta/models/gemini-2.5-flash:generateContent"
    assert seen.headers["x-goog-api-key"] == KEY and "key=" not in seen.path


def test_streamed_text(provider: GeminiProvider, server: StandinServer) -> None:
    chunks = stream(provider, user("Tell me a story about a brave little toaster"))
    texts = [c.text for c in chunks if c.text]
    assert len(texts) > 3
    assert "".join(texts) == (
        "Hello from the Gemini stand-in: Tell me a story about a brave little toaster")
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    assert chunks[-1].usage is not None and chunks[-1].usage.output_tokens > 0
    assert server.requests[-1].path.endswith(":streamGenerateContent?alt=sse")


def test_function_call_and_answer(provider: GeminiProvider) -> None:
    r = chat(provider, user("Weather in Paris?", tools=[WEATHER]))
    assert r.finish_reason == "tool_calls"
    (call,) = r.message.tool_calls
    assert (call.name, call.arguments) == ("get_weather", {"city": "example", "days": 3})
    follow = ChatRequest(tools=[WEATHER], messages=[
        Message.user("Weather in Paris?"),
        Message(role="assistant", content=[call]),
        Message(role="tool", content=[ToolResultPart(tool_call_id=call.id,
                                                     content='{"temp_c": 22}')]),
    ])
    r2 = chat(provider, follow)
    assert r2.message.text == 'The tool returned: {"temp_c": 22}'


def test_streamed_function_call(provider: GeminiProvider) -> None:
    chunks = stream(provider, user("Weather?", tools=[WEATHER]))
    (delta,) = [d for c in chunks for d in c.tool_calls]
    assert delta.name == "get_weather" and delta.id
    assert json.loads(delta.arguments) == {"city": "example", "days": 3}
    assert chunks[-1].finish_reason == "tool_calls"


def test_forced_and_disabled_tools(provider: GeminiProvider) -> None:
    other = ToolSpec(name="lookup", parameters={"type": "object", "properties": {
        "ok": {"type": "boolean"}}})
    r = chat(provider, user("x", tools=[WEATHER, other],
                            tool_choice=NamedToolChoice(name="lookup")))
    assert r.message.tool_calls[0].name == "lookup"
    r = chat(provider, user("x", tools=[WEATHER], tool_choice="none"))
    assert r.message.tool_calls == [] and r.finish_reason == "stop"


def test_json_schema(provider: GeminiProvider) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"},
                                               "tags": {"type": "array",
                                                        "items": {"type": "string"}}},
              "required": ["name", "tags"]}
    r = chat(provider, user("Person?", response_format=ResponseFormat(
        type="json_schema", name="person", json_schema=schema)))
    assert json.loads(r.message.text) == {"name": "example", "tags": ["example"]}
    r = chat(provider, user("hi", response_format=ResponseFormat(type="json_object")))
    assert json.loads(r.message.text) == {"answer": "Hello from the Gemini stand-in: hi"}


def test_stop_and_max_tokens(provider: GeminiProvider) -> None:
    r = chat(provider, user("one two", params=GenerationParams(stop=["stand-in"])))
    assert r.message.text == "Hello from the Gemini " and r.finish_reason == "stop"
    r = chat(provider, user("one two", params=GenerationParams(max_tokens=3)))
    assert (r.message.text, r.finish_reason) == ("Hello from the", "length")


def test_safety_block(provider: GeminiProvider) -> None:
    with pytest.raises(ContentPolicyError, match="SAFETY"):
        chat(provider, user("tell me the forbidden thing"))
    with pytest.raises(ContentPolicyError):
        stream(provider, user("tell me the forbidden thing"))


def test_rate_limit_fault(server: StandinServer, provider: GeminiProvider) -> None:
    server.push(Fault.status(429))
    with pytest.raises(RateLimitError) as info:
        chat(provider, user("hi"))
    assert info.value.retry_after == pytest.approx(0.02)  # RetryInfo.retryDelay "0.02s"
    server.push(Fault.status(429, retry_after=2))
    with pytest.raises(RateLimitError) as info:
        chat(provider, user("hi"))
    assert info.value.retry_after == 2
    assert chat(provider, user("hi")).finish_reason == "stop"


def test_server_faults(server: StandinServer, provider: GeminiProvider) -> None:
    server.push(Fault.status(500), Fault.status(503), Fault.malformed())
    with pytest.raises(ServerError):
        chat(provider, user("hi"))
    with pytest.raises(OverloadedError):
        chat(provider, user("hi"))
    with pytest.raises(InvalidResponseError):
        chat(provider, user("hi"))


def test_wrong_and_missing_key(server: StandinServer) -> None:
    wrong = "AIzaSy-wrong-0000000000000000000"
    p = GeminiProvider(ProviderSettings(name="s", type="gemini", base_url=server.url,
                                        api_key=wrong))
    with pytest.raises(AuthenticationError) as info:
        chat(p, user("hi"))
    assert wrong not in str(info.value)
    resp = drive.send(HttpRequest("POST", server.url + "/v1beta/models/m:generateContent",
                            json={"contents": []}))
    assert resp.status == 403
    assert isinstance(p.parse_error(resp, "m"), AuthenticationError)


def test_stream_faults(server: StandinServer, provider: GeminiProvider) -> None:
    server.push(Fault.truncate_stream(after_chunks=2))
    with pytest.raises(StreamInterruptedError):
        stream(provider, user("a b c d e f g"))
    server.push(Fault.in_band_error(after_chunks=1, message="upstream hiccup"))
    with pytest.raises(OverloadedError, match="upstream hiccup"):
        stream(provider, user("a b c d e f g"))
    server.push(Fault.cut_stream(after_chunks=1))
    with pytest.raises(StreamInterruptedError):
        stream(provider, user("a b c d e f g"))


def test_models_endpoint(provider: GeminiProvider) -> None:
    req = provider.list_models_request()
    assert req is not None and req.url.endswith("/v1beta/models?pageSize=1000")
    assert provider.parse_models(drive.send(req)) == ["gemini-2.5-flash", "gemini-2.5-pro",
                                                "gemini-2.0-flash"]


def test_vertex_paths(server: StandinServer) -> None:
    p = VertexGeminiProvider(ProviderSettings(
        name="vx", type="vertex_gemini", base_url=server.url, api_key=KEY,
        project="demo-project", extra={"location": "europe-west4"}))
    r = chat(p, user("hi"))
    assert r.message.text == "Hello from the Gemini stand-in: hi"
    seen = server.requests[-1]
    assert seen.path == ("/v1/projects/demo-project/locations/europe-west4/publishers/google/"
                         "models/gemini-2.5-flash:generateContent")
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert "x-goog-api-key" not in seen.headers
    assert "".join(c.text for c in stream(p, user("yo"))) == "Hello from the Gemini stand-in: yo"


def test_history_with_model_turns(provider: GeminiProvider) -> None:
    request = ChatRequest(messages=[
        Message.system("Be nice."), Message.user("Hi"), Message.assistant("Hello!"),
        Message(role="assistant", content=[ToolCallPart(id="fc-1", name="get_weather",
                                                        arguments={"city": "Oslo"})]),
        Message(role="tool", content=[ToolResultPart(tool_call_id="fc-1", content="-3C")]),
    ], tools=[WEATHER])
    assert chat(provider, request).message.text == 'The tool returned: {"output": "-3C"}'
