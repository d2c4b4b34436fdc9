"""Replay hand-written cassettes of the real wire format through polyroute's ``Transport``.

The cassettes in ``cassettes/openai_wire/`` hold the examples of
https://platform.openai.com/docs/api-reference/chat/create (default, streaming,
functions) and an error from https://platform.openai.com/docs/guides/error-codes,
with request bodies exactly as the core transport serialises
``OpenAIProvider.build_request``'s JSON (``polyroute.testing.wire``: the router's
encoding, framing and error mapping; vcrpy answers under its httpx client).
"""

from __future__ import annotations

import os

import pytest

from polyroute.errors import (
    AuthenticationError,
    ContentPolicyError,
    ContextWindowError,
    ProviderError,
    RateLimitError,
    ServerError,
)
from polyroute.providers.base import ProviderSettings
from polyroute.secrets import Secret
from polyroute.testing import wire
from polyroute.testing.streams import parse_events
from polyroute.types import ChatRequest, Message, ToolSpec
from polyroute_openai import OpenAIProvider

pytestmark = pytest.mark.vcr

P = OpenAIProvider(ProviderSettings(name="openai", type="openai",
                                    api_key=Secret(os.environ.get("OPENAI_API_KEY")
                                                   or "sk-replay-not-a-real-key-000000")))

HELLO = ChatRequest(messages=[Message.system("You are a helpful assistant."),
                              Message.user("Hello!")])
WEATHER = ToolSpec(
    name="get_current_weather",
    description="Get the current weather in a given location",
    parameters={
        "type": "object",
        "properties": {
            "location": {"type": "string",
                         "description": "The city and state, e.g. San Francisco, CA"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["location"],
    },
)
WEATHER_Q = ChatRequest(messages=[Message.user("What is the weather like in Boston today?")],
                        tools=[WEATHER], tool_choice="auto")


def test_text_completion() -> None:
    resp = wire.send(P.build_request(HELLO, "gpt-4.1", stream=False))
    assert resp.status == 200
    r = P.parse_response(resp, "gpt-4.1")
    assert r.message.text == "Hello! How can I assist you today?"
    assert r.finish_reason == "stop"
    assert (r.usage.input_tokens, r.usage.output_tokens) == (19, 10)
    assert r.response_model == "gpt-4.1-2025-04-14"
    assert r.provider_metadata["request_id"] == "req_a1b2c3d4e5f60718293a4b5c6d7e8f90"


def test_streaming() -> None:
    reply = wire.open_stream(P.build_request(HELLO, "gpt-4.1", stream=True))
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/event-stream")
    chunks = parse_events(P.stream_parser("gpt-4.1"), reply.events)
    assert "".join(c.text for c in chunks) == "Hello! How can I assist you today?"
    assert [c.finish_reason for c in chunks if c.finish_reason] == ["stop"]
    usage = chunks[-1].usage
    assert usage is not None and (usage.input_tokens, usage.output_tokens) == (19, 10)


def test_tool_call() -> None:
    resp = wire.send(P.build_request(WEATHER_Q, "gpt-4o-mini", stream=False))
    r = P.parse_response(resp, "gpt-4o-mini")
    assert r.finish_reason == "tool_calls"
    (call,) = r.message.tool_calls
    assert (call.id, call.name, call.arguments) == (
        "call_abc123", "get_current_weather", {"location": "Boston, MA"})
    assert r.usage.total_tokens == 99


def test_rate_limited() -> None:
    resp = wire.send(P.build_request(HELLO, "gpt-4.1", stream=False))
    assert resp.status == 429
    error = P.parse_error(resp, "gpt-4.1")
    assert isinstance(error, RateLimitError) and error.retryable
    assert error.retry_after == 20
    assert error.request_id == "req_429f00dfeedbeef00000000000000000"
    assert error.error_type == "rate_limit_exceeded"


@pytest.mark.parametrize(
    ("status", "cls", "code", "retryable"),
    [
        pytest.param(500, ServerError, None, True, id="server_error"),
        pytest.param(401, AuthenticationError, "invalid_api_key", False, id="invalid_api_key"),
        pytest.param(400, ContextWindowError, "context_length_exceeded", False,
                     id="context_length_exceeded"),
        pytest.param(400, ContentPolicyError, "content_policy_violation", False,
                     id="content_policy_violation"),
    ],
)
def test_error_classes(
    status: int, cls: type[ProviderError], code: str | None, retryable: bool
) -> None:
    """Each error cassette, written by hand from the error-codes guide, is classified once."""
    resp = wire.send(P.build_request(HELLO, "gpt-4.1", stream=False))
    assert resp.status == status
    error = P.parse_error(resp, "gpt-4.1")
    assert type(error) is cls and error.retryable is retryable
    assert error.status == status and error.request_id and error.request_id.startswith("req_")
    if code:
        assert error.error_type == code
    assert "sk-replay-not-a-real-key" not in str(error)
