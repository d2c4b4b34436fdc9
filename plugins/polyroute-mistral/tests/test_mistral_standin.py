"""The Mistral stand-in responder, over loopback HTTP (polyroute.testing.drive)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from polyroute.errors import (
    AuthenticationError,
    BadRequestError,
    InvalidResponseError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from polyroute.providers.base import HttpRequest, ProviderSettings
from polyroute.testing import drive
from polyroute.testing.chat import user
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
from polyroute_mistral import MistralProvider
from polyroute_mistral.standin import MistralResponder

pytestmark = pytest.mark.standin

KEY = "mistral-standin-0123456789abcdef"
PAY = ToolSpec(name="retrieve_payment_status", description="Get payment status",
               parameters={"type": "object", "properties": {"transaction_id": {"type": "string"},
                                                            "urgent": {"type": "boolean"}},
                           "required": ["transaction_id"]})


@pytest.fixture(scope="module")
def server() -> Iterator[StandinServer]:
    with StandinServer(MistralResponder(require_api_key=KEY)) as s:
        yield s


@pytest.fixture
def provider(server: StandinServer) -> MistralProvider:
    server.clear()
    return MistralProvider(ProviderSettings(name="standin", type="mistral",
                                            base_url=server.url + "/v1", api_key=KEY))



def chat(p: MistralProvider, request: ChatRequest, model: str = "mistral-small-latest"
         ) -> ChatResponse:
    return drive.chat(p, request, model)


def stream(p: MistralProvider, request: ChatRequest, model: str = "mistral-small-latest"
           ) -> list[ChatChunk]:
    return drive.stream(p, request, model)


def test_text_answer_and_stream(provider: MistralProvider) -> None:
    r = chat(provider, user("What is the best French cheese?"))
    assert r.message.text == "Hello from the Mistral stand-in: What is the best French cheese?"
    assert r.finish_reason == "stop" and r.usage.output_tokens > 0
    chunks = stream(provider, user("Tell me a story about a brave little toaster"))
    assert len([c for c in chunks if c.text]) > 3
    assert "".join(c.text for c in chunks) == (
        "Hello from the Mistral stand-in: Tell me a story about a brave little toaster")
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage is not None


def test_every_neutral_param_is_accepted(provider: MistralProvider,
                                         server: StandinServer) -> None:
    # the stand-in answers 422 to unknown fields, like Mistral: seed/top_k must not leak
    params = GenerationParams(temperature=0.1, top_p=0.5, top_k=5, max_tokens=50, stop=["zz"],
                              seed=1, presence_penalty=0.1, frequency_penalty=0.1)
    assert chat(provider, user("hi", params=params)).finish_reason == "stop"
    assert server.requests[-1].json()["random_seed"] == 1
    stream(provider, user("hi", params=params))


def test_tool_call_round_trip_with_foreign_ids(provider: MistralProvider) -> None:
    r = chat(provider, user("Status of T1001?", tools=[PAY]))
    [call] = r.message.tool_calls
    assert len(call.id) == 9 and call.arguments == {"transaction_id": "example",
                                                    "urgent": True}
    # A history whose call came from another provider (OpenAI-style id) still works.
    history = ChatRequest(tools=[PAY], messages=[
        Message.user("Status of T1001?"),
        Message(role="assistant", content=[ToolCallPart(id="call_Xq9LmN2pQ8rT", name=call.name,
                                                        arguments=call.arguments)]),
        Message(role="tool", content=[ToolResultPart(tool_call_id="call_Xq9LmN2pQ8rT",
                                                     content='{"status": "Paid"}')]),
    ])
    assert chat(provider, history).message.text == 'The tool returned: {"status": "Paid"}'
    chunks = stream(provider, user("x", tools=[PAY],
                                   tool_choice=NamedToolChoice(name="retrieve_payment_status")))
    [delta] = [d for c in chunks for d in c.tool_calls]
    assert delta.name == "retrieve_payment_status" and delta.id and len(delta.id) == 9
    assert chunks[-1].finish_reason == "tool_calls"


def test_responder_rejects_bad_ids_and_fields(server: StandinServer) -> None:
    url = server.url + "/v1/chat/completions"
    headers = {"authorization": f"Bearer {KEY}"}
    bad = {"model": "m", "messages": [{"role": "tool", "tool_call_id": "call_1",
                                       "content": "x"}]}
    p = MistralProvider(ProviderSettings(name="s", type="mistral", api_key=KEY))
    with pytest.raises(BadRequestError, match="length of 9"):
        raise p.parse_error(drive.send(HttpRequest("POST", url, headers, json=bad)), "m")
    extra = {"model": "m", "messages": [{"role": "user", "content": "x"}], "seed": 1}
    with pytest.raises(BadRequestError, match=r"body\.seed"):
        raise p.parse_error(drive.send(HttpRequest("POST", url, headers, json=extra)), "m")


def test_json_formats_and_limits(provider: MistralProvider) -> None:
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    r = chat(provider, user("x", response_format=ResponseFormat(type="json_schema",
                                                                json_schema=schema)))
    assert json.loads(r.message.text) == {"name": "example"}
    r = chat(provider, user("one two", params=GenerationParams(max_tokens=3)))
    assert (r.message.text, r.finish_reason) == ("Hello from the", "length")


def test_faults(server: StandinServer, provider: MistralProvider) -> None:
    server.push(Fault.status(429, retry_after=1), Fault.status(500), Fault.malformed())
    with pytest.raises(RateLimitError) as info:
        chat(provider, user("hi"))
    assert info.value.retry_after == 1
    assert info.value.reason == "Requests rate limit exceeded"
    with pytest.raises(ServerError):
        chat(provider, user("hi"))
    with pytest.raises(InvalidResponseError):
        chat(provider, user("hi"))
    server.push(Fault.in_band_error(after_chunks=2, message="upstream hiccup"))
    with pytest.raises(ServerError, match="upstream hiccup"):
        stream(provider, user("a b c d e f"))
    server.push(Fault.truncate_stream(after_chunks=2))
    with pytest.raises(StreamInterruptedError):
        stream(provider, user("a b c d e f"))


def test_wrong_key(server: StandinServer) -> None:
    p = MistralProvider(ProviderSettings(name="s", type="mistral", base_url=server.url + "/v1",
                                         api_key="wrong-key-000000000000000"))
    with pytest.raises(AuthenticationError):
        chat(p, user("hi"))


def test_models_endpoint(provider: MistralProvider) -> None:
    req = provider.list_models_request()
    assert req is not None
    assert provider.parse_models(drive.send(req)) == [
        "mistral-small-latest", "mistral-large-latest", "codestral-latest"]
