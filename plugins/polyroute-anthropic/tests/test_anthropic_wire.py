"""Cassette replay: hand-written interactions from the API reference, through the provider.

Each test sends the provider's request to https://api.anthropic.com/v1/messages
through polyroute's ``Transport`` (``polyroute.testing.wire``), vcrpy answers from
``cassettes/anthropic_wire/<test name>.yaml`` (record mode ``none``: no
network), and the provider parses the answer.
"""

from __future__ import annotations

import os

import pytest

from polyroute.errors import (
    AuthenticationError,
    ContentPolicyError,
    ContextWindowError,
    OverloadedError,
    ProviderError,
    ServerError,
)
from polyroute.providers.base import HttpRequest, HttpResponse, ProviderSettings
from polyroute.testing import wire
from polyroute.testing.streams import parse_events
from polyroute.types import ChatRequest, GenerationParams, Message, ToolSpec
from polyroute_anthropic import AnthropicProvider

pytestmark = pytest.mark.vcr

WEATHER = ToolSpec(
    name="get_weather",
    description="Get the current weather in a given location",
    parameters={
        "type": "object",
        "properties": {
            "location": {"type": "string",
                         "description": "The city and state, e.g. San Francisco, CA"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"],
                     "description": "The unit of temperature, either 'celsius' or 'fahrenheit'"},
        },
        "required": ["location"],
    },
)


@pytest.fixture
def prov() -> AnthropicProvider:
    # Replay needs no key (cassettes store x-api-key as REDACTED and never match on
    # headers); a real one is only used when re-recording with --record-mode once.
    key = os.environ.get("ANTHROPIC_API_KEY") or "sk-ant-api03-cassette-fake-key"
    return AnthropicProvider(ProviderSettings(name="anthropic", type="anthropic", api_key=key))


def post(http: HttpRequest) -> HttpResponse:
    assert http.url == "https://api.anthropic.com/v1/messages"
    return wire.send(http)


def test_text_response(prov: AnthropicProvider) -> None:
    req = ChatRequest(messages=[Message.user("Hello, Claude")],
                      params=GenerationParams(max_tokens=1024))
    resp = post(prov.build_request(req, "claude-sonnet-4-5", stream=False))
    assert resp.status == 200
    out = prov.parse_response(resp, "claude-sonnet-4-5")
    assert out.message.text == "Hi! My name is Claude."
    assert out.finish_reason == "stop"
    assert out.response_id == "msg_013Zva2CMHLNnXjNJJKqJ2EF"
    assert (out.usage.input_tokens, out.usage.output_tokens) == (2095, 503)


def test_streaming_event_sequence(prov: AnthropicProvider) -> None:
    req = ChatRequest(messages=[Message.user("Hello")], params=GenerationParams(max_tokens=256))
    http = prov.build_request(req, "claude-opus-4-1", stream=True)
    assert http.url == "https://api.anthropic.com/v1/messages"
    reply = wire.open_stream(http)
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/event-stream")
    chunks = parse_events(prov.stream_parser("claude-opus-4-1"), reply.events)
    assert "".join(c.text for c in chunks) == "Hello!"
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.input_tokens, chunks[-1].usage.output_tokens) == (25, 15)


def test_tool_use(prov: AnthropicProvider) -> None:
    req = ChatRequest(messages=[Message.user("What's the weather like in San Francisco?")],
                      tools=[WEATHER], params=GenerationParams(max_tokens=1024))
    resp = post(prov.build_request(req, "claude-opus-4-1", stream=False))
    out = prov.parse_response(resp, "claude-opus-4-1")
    assert out.finish_reason == "tool_calls"
    [call] = out.message.tool_calls
    assert call.id == "toolu_01A09q90qw90lq917835lq9"
    assert call.arguments == {"location": "San Francisco, CA", "unit": "celsius"}


def test_overloaded_529(prov: AnthropicProvider) -> None:
    req = ChatRequest(messages=[Message.user("Hello")], params=GenerationParams(max_tokens=1024))
    resp = post(prov.build_request(req, "claude-sonnet-4-5", stream=False))
    assert resp.status == 529
    err = prov.parse_error(resp, "claude-sonnet-4-5")
    assert isinstance(err, OverloadedError)
    assert err.retryable
    assert err.error_type == "overloaded_error"
    assert err.request_id == "req_011CSHoEeqs5C35K2UUqR7Fy"
    assert err.status == 529


@pytest.mark.parametrize(
    ("status", "cls", "etype", "retryable"),
    [
        pytest.param(500, ServerError, "api_error", True, id="api_error_500"),
        pytest.param(401, AuthenticationError, "authentication_error", False,
                     id="authentication_error_401"),
        pytest.param(400, ContextWindowError, "invalid_request_error", False,
                     id="prompt_too_long_400"),
        pytest.param(400, ContentPolicyError, "invalid_request_error", False,
                     id="content_filtered_400"),
    ],
)
def test_error_classes(
    prov: AnthropicProvider, status: int, cls: type[ProviderError], etype: str, retryable: bool
) -> None:
    """Each error cassette, written by hand from the errors reference, is classified once."""
    req = ChatRequest(messages=[Message.user("Hello")], params=GenerationParams(max_tokens=1024))
    resp = post(prov.build_request(req, "claude-sonnet-4-5", stream=False))
    assert resp.status == status
    err = prov.parse_error(resp, "claude-sonnet-4-5")
    assert type(err) is cls and err.retryable is retryable
    assert err.error_type == etype and err.status == status
    assert err.request_id and err.request_id.startswith("req_011CSHoEeqs5C35K2UUqR")
