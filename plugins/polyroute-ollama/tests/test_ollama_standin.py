"""OllamaResponder on a loopback StandinServer (polyroute.testing.drive)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from polyroute.errors import (
    AuthenticationError,
    BadRequestError,
    InvalidResponseError,
    NotFoundError,
    OverloadedError,
    ProviderError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from polyroute.providers.base import ProviderSettings
from polyroute.testing import drive
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    GenerationParams,
    Message,
    ResponseFormat,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from polyroute_ollama import OllamaProvider
from polyroute_ollama.standin import OllamaResponder, example_for

pytestmark = pytest.mark.standin
MODEL = "llama3.2"
WEATHER = ToolSpec(name="get_weather", description="Weather", parameters={
    "type": "object", "properties": {"city": {"type": "string"},
                                     "unit": {"enum": ["celsius", "fahrenheit"]}},
    "required": ["city"]})


@pytest.fixture(scope="module")
def server() -> Iterator[StandinServer]:
    with StandinServer(OllamaResponder(models=["llama3.2", "qwen3:8b"])) as srv:
        yield srv


@pytest.fixture
def prov(server: StandinServer, monkeypatch: pytest.MonkeyPatch) -> OllamaProvider:
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    server.clear()
    # base_url given as host:port, the way OLLAMA_HOST is usually written
    return OllamaProvider(ProviderSettings(name="local", type="ollama",
                                           base_url=server.url.removeprefix("http://")))



def call(prov: OllamaProvider, req: ChatRequest, model: str = MODEL) -> ChatResponse:
    return drive.chat(prov, req, model)


def stream(prov: OllamaProvider, req: ChatRequest, model: str = MODEL) -> list[ChatChunk]:
    return drive.stream(prov, req, model)


def test_text_answer(prov: OllamaProvider, server: StandinServer) -> None:
    resp = call(prov, ChatRequest(messages=[Message.system("Be brief."), Message.user("Hi!")]))
    assert resp.message.text == "Hello from the Ollama stand-in: Hi!"
    assert resp.finish_reason == "stop" and resp.response_model == MODEL
    assert resp.usage.input_tokens > 0 and resp.usage.output_tokens == 6
    sent = server.requests[-1]
    assert sent.path == "/api/chat" and sent.json()["stream"] is False


def test_streamed_text_equals_full_answer(prov: OllamaProvider) -> None:
    req = ChatRequest(messages=[Message.user("stream me please")])
    full = call(prov, req)
    chunks = stream(prov, req)
    assert "".join(c.text for c in chunks) == full.message.text
    assert len([c for c in chunks if c.text]) == 8  # one NDJSON line per word
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage == full.usage


def test_tool_call_and_round_trip(prov: OllamaProvider) -> None:
    resp = call(prov, ChatRequest(messages=[Message.user("Weather in Paris?")], tools=[WEATHER]))
    [tc] = resp.message.tool_calls
    assert (tc.name, tc.arguments) == ("get_weather", {"city": "example", "unit": "celsius"})
    assert resp.finish_reason == "tool_calls"
    streamed = stream(prov, ChatRequest(messages=[Message.user("Weather in Paris?")],
                                        tools=[WEATHER]))
    [delta] = [d for c in streamed for d in c.tool_calls]
    assert delta.id == tc.id and json.loads(delta.arguments) == tc.arguments
    followup = call(prov, ChatRequest(tools=[WEATHER], messages=[
        Message.user("Weather in Paris?"),
        Message(role="assistant", content=[ToolCallPart(id=tc.id, name=tc.name,
                                                        arguments=tc.arguments)]),
        Message(role="tool", content=[ToolResultPart(tool_call_id=tc.id, content="21C")])]))
    assert followup.message.text == "The tool returned: 21C"


def test_json_format(prov: OllamaProvider) -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"},
                                               "ok": {"type": "boolean"}}}
    out = call(prov, ChatRequest(messages=[Message.user("x")], response_format=ResponseFormat(
        type="json_schema", name="A", json_schema=schema)))
    assert json.loads(out.message.text) == {"age": 3, "ok": True}
    anyjson = call(prov, ChatRequest(messages=[Message.user("x")],
                                     response_format=ResponseFormat(type="json_object")))
    assert json.loads(anyjson.message.text) == {"answer": "x"}


def test_num_predict_and_stop(prov: OllamaProvider) -> None:
    cut = call(prov, ChatRequest(messages=[Message.user("one two three")],
                                 params=GenerationParams(max_tokens=3)))
    assert (cut.message.text, cut.finish_reason) == ("Hello from the", "length")
    stopped = call(prov, ChatRequest(messages=[Message.user("one two three")],
                                     params=GenerationParams(stop=[" two"])))
    assert stopped.message.text == "Hello from the Ollama stand-in: one"


def test_unknown_model_is_404(prov: OllamaProvider) -> None:
    with pytest.raises(NotFoundError, match="'mystery' not found"):
        call(prov, ChatRequest(messages=[Message.user("x")]), model="mystery")
    assert call(prov, ChatRequest(messages=[Message.user("x")]), model="qwen3:8b")


def test_model_list_and_health(prov: OllamaProvider) -> None:
    names = prov.parse_models(drive.send(prov.list_models_request()))
    assert names == ["llama3.2:latest", "qwen3:8b"]
    assert prov.parse_health(drive.send(prov.health_request())) == OllamaResponder.version


def test_health_of_something_else_fails(server: StandinServer) -> None:
    prov = OllamaProvider(ProviderSettings(name="x", type="ollama", base_url=server.url + "/nope"))
    with pytest.raises(NotFoundError, match="404 page not found"):
        prov.parse_health(drive.send(prov.health_request()))


@pytest.mark.parametrize(
    ("status", "cls"),
    [(429, RateLimitError), (500, ServerError), (503, OverloadedError),
     (401, AuthenticationError), (400, BadRequestError), (404, NotFoundError)],
)
def test_faults_in_ollama_format(
    prov: OllamaProvider, server: StandinServer, status: int, cls: type[ProviderError]
) -> None:
    server.push(Fault.status(status, retry_after=2, message="injected"))
    with pytest.raises(cls) as info:
        call(prov, ChatRequest(messages=[Message.user("x")]))
    assert type(info.value) is cls and info.value.reason == "injected"
    if status in (429, 500, 503):
        assert info.value.retry_after == 2.0


def test_malformed_fault(prov: OllamaProvider, server: StandinServer) -> None:
    server.push(Fault.malformed())
    with pytest.raises(InvalidResponseError):
        call(prov, ChatRequest(messages=[Message.user("x")]))


def test_in_band_error_fault(prov: OllamaProvider, server: StandinServer) -> None:
    server.push(Fault.in_band_error(after_chunks=2, message="model runner crashed"))
    with pytest.raises(StreamInterruptedError, match="model runner crashed"):
        stream(prov, ChatRequest(messages=[Message.user("x y z")]))


def test_truncated_stream(prov: OllamaProvider, server: StandinServer) -> None:
    server.push(Fault.truncate_stream(after_chunks=3))
    with pytest.raises(StreamInterruptedError, match="done: true"):
        stream(prov, ChatRequest(messages=[Message.user("x y z")]))


def test_example_for() -> None:
    assert example_for({"type": "array", "items": {"type": "number"}}) == [1.5]
    assert example_for({"anyOf": [{"type": "null"}, {"type": "integer"}]}) == 3
    assert example_for({"type": ["null", "string"]}) == "example"
    assert example_for({"type": "object"}) == {}
