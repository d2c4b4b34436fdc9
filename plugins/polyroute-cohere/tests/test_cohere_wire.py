"""Cassette replay: hand-written interactions from Cohere's API reference, through the provider.

Each test sends the provider's request through polyroute's ``Transport``
(``polyroute.testing.wire``) to https://api.cohere.com/v2/chat; vcrpy answers from
``cassettes/cohere_wire/<test name>.yaml`` (record mode ``none``). Sources,
named again at the top of each cassette:

- https://docs.cohere.com/reference/chat (request and response bodies)
- https://docs.cohere.com/docs/streaming and
  https://docs.cohere.com/docs/tool-use-streaming (v2 stream events)
- https://docs.cohere.com/docs/tool-use-overview (get_weather example)
- https://docs.cohere.com/reference/errors (status codes, ``{"message"}`` bodies
  and their example messages)
"""

from __future__ import annotations

import os

import pytest

from polyroute.errors import (
    AuthenticationError,
    ContentPolicyError,
    ContextWindowError,
    RateLimitError,
    ServerError,
)
from polyroute.providers.base import HttpRequest, HttpResponse, ProviderSettings
from polyroute.testing import wire
from polyroute.testing.streams import parse_events
from polyroute.types import ChatRequest, Message, ToolSpec
from polyroute_cohere import CohereProvider

pytestmark = pytest.mark.vcr

MODEL = "command-a-03-2025"
WEATHER = ToolSpec(
    name="get_weather",
    description="gets the weather of a given location",
    parameters={"type": "object",
                "properties": {"location": {"type": "string",
                                            "description": "the location to get the weather, "
                                                           "example: San Francisco."}},
                "required": ["location"]},
)


@pytest.fixture
def prov() -> CohereProvider:
    key = os.environ.get("CO_API_KEY") or "cassette-fake-cohere-key-00000000"
    return CohereProvider(ProviderSettings(name="cohere", type="cohere", api_key=key))


def ask(text: str = "What is an LLM?", **kw: object) -> ChatRequest:
    return ChatRequest(messages=[Message.user(text)], **kw)  # type: ignore[arg-type]


def post(http: HttpRequest) -> HttpResponse:
    assert http.url == "https://api.cohere.com/v2/chat"
    return wire.send(http)


def test_chat_response(prov: CohereProvider) -> None:
    out = prov.parse_response(post(prov.build_request(ask(), MODEL, stream=False)), MODEL)
    assert out.message.text.startswith("A large language model (LLM)")
    assert out.finish_reason == "stop"
    assert (out.usage.input_tokens, out.usage.output_tokens) == (5, 58)  # billed units
    assert out.provider_metadata["usage"]["tokens"] == {"input_tokens": 71,
                                                        "output_tokens": 60}
    assert out.response_id == "c14c80c3-18eb-4519-9460-6c92edd8cfb4"


def test_streaming(prov: CohereProvider) -> None:
    http = prov.build_request(ask(), MODEL, stream=True)
    assert http.url == "https://api.cohere.com/v2/chat"
    reply = wire.open_stream(http)
    assert reply.headers["content-type"].startswith("text/event-stream")
    chunks = parse_events(prov.stream_parser(MODEL), reply.events)
    assert "".join(c.text for c in chunks) == "A large language model is an AI system."
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.input_tokens, chunks[-1].usage.output_tokens) == (5, 9)


def test_tool_calling(prov: CohereProvider) -> None:
    req = ask("What's the weather in Toronto?", tools=[WEATHER])
    out = prov.parse_response(post(prov.build_request(req, MODEL, stream=False)), MODEL)
    assert out.finish_reason == "tool_calls"
    [call] = out.message.tool_calls
    assert (call.id, call.name, call.arguments) == (
        "get_weather_1byjy32y4hvq", "get_weather", {"location": "Toronto"})
    assert out.provider_metadata["tool_plan"] == (
        "I will search for the weather in Toronto.")


def test_rate_limited_429(prov: CohereProvider) -> None:
    err = prov.parse_error(post(prov.build_request(ask(), MODEL, stream=False)), MODEL)
    assert type(err) is RateLimitError and err.retryable and err.status == 429
    assert err.reason.startswith("You are past the per minute request limit")


def test_server_error_500(prov: CohereProvider) -> None:
    err = prov.parse_error(post(prov.build_request(ask(), MODEL, stream=False)), MODEL)
    assert type(err) is ServerError and err.retryable


def test_request_cancelled_499(prov: CohereProvider) -> None:
    err = prov.parse_error(post(prov.build_request(ask(), MODEL, stream=False)), MODEL)
    assert type(err) is ServerError and err.retryable and err.status == 499


def test_auth_401(prov: CohereProvider) -> None:
    err = prov.parse_error(post(prov.build_request(ask(), MODEL, stream=False)), MODEL)
    assert isinstance(err, AuthenticationError) and not err.retryable
    assert err.reason == "invalid api token"


def test_context_overflow(prov: CohereProvider) -> None:
    req = ask("Summarise: " + "lorem ipsum " * 20)
    err = prov.parse_error(post(prov.build_request(req, MODEL, stream=False)), MODEL)
    assert isinstance(err, ContextWindowError) and err.fallbackable


def test_blocked_output(prov: CohereProvider) -> None:
    req = ask("Write a threatening letter to my neighbour.")
    err = prov.parse_error(post(prov.build_request(req, MODEL, stream=False)), MODEL)
    assert isinstance(err, ContentPolicyError) and not err.fallbackable
