"""Cassette replay: hand-written Converse / ConverseStream interactions from the AWS references.

Each test sends the provider's (SigV4-signed, fake example credentials) request
through polyroute's ``Transport`` (``polyroute.testing.wire``; streams are framed by
the plugin's registered ``aws-eventstream`` decoder) to
``bedrock-runtime.us-east-1.amazonaws.com``;
vcrpy answers from ``cassettes/bedrock_wire/<test name>.yaml`` (record mode
``none``; matched on method, URL and body, never on the scrubbed
``authorization``/``x-amz-*`` headers) and the provider parses the answer.
Streamed bodies are real binary event-stream messages (stored base64 as
``!!binary``; each cassette's comment lists the decoded events).
"""

from __future__ import annotations

import pytest
import vcr  # noqa: F401  (imported at collection: see the note below)

from polyroute.errors import (
    AuthenticationError,
    ContentPolicyError,
    ContextWindowError,
    OverloadedError,
    RateLimitError,
    ServerError,
)
from polyroute.providers.base import HttpRequest, HttpResponse, ProviderSettings
from polyroute.testing import wire
from polyroute.testing.streams import parse_events
from polyroute.types import ChatChunk, ChatRequest, GenerationParams, Message, ToolSpec
from polyroute_bedrock import BedrockProvider

pytestmark = pytest.mark.vcr
# vcr is imported at collection on purpose: imported lazily by pytest-recording
# after the router tests, pytest's assertion rewriter hit CPython 3.11.7's
# "AST constructor recursion depth mismatch" (gh-106905, fixed in 3.11.8).

HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"
SONG = ToolSpec(
    name="top_song",
    description="Get the most popular song played on a radio station.",
    parameters={"type": "object", "properties": {"sign": {
        "type": "string", "description": "The call sign for the radio station for which you "
        "want the most popular song. Example calls signs are WZPZ and WKRP."}},
        "required": ["sign"]},
)
HELLO = [Message.user("Hello")]

REQUESTS: dict[str, tuple[ChatRequest, bool]] = {
    "test_text_response": (ChatRequest(messages=HELLO,
                                       params=GenerationParams(max_tokens=512)), False),
    "test_streaming": (ChatRequest(messages=HELLO, params=GenerationParams(max_tokens=512)), True),
    "test_tool_use": (ChatRequest(messages=[Message.user(
        "What is the most popular song on WZPZ?")], tools=[SONG]), False),
    "test_tool_use_streaming": (ChatRequest(messages=[Message.user(
        "What is the most popular song on WZPZ?")], tools=[SONG]), True),
    "test_throttled_429": (ChatRequest(messages=HELLO), False),
    "test_model_not_ready_429": (ChatRequest(messages=HELLO), False),
    "test_internal_error_500": (ChatRequest(messages=HELLO), False),
    "test_service_unavailable_503": (ChatRequest(messages=HELLO), False),
    "test_access_denied_403": (ChatRequest(messages=[Message.user("Hi")]), False),
    "test_input_too_long_400": (ChatRequest(messages=[Message.user("very long " * 8)]), False),
    "test_content_filtered_400": (ChatRequest(messages=[Message.user("blocked prompt")]), False),
    "test_throttled_in_stream": (ChatRequest(messages=HELLO), True),
}


@pytest.fixture
def prov() -> BedrockProvider:
    return BedrockProvider(ProviderSettings(name="bedrock", type="bedrock", extra={
        "region": "us-east-1", "aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
        "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}))


def post(http: HttpRequest) -> HttpResponse:
    assert http.url.startswith("https://bedrock-runtime.us-east-1.amazonaws.com/model/")
    return wire.send(http)


def run(prov: BedrockProvider, name: str) -> HttpResponse:
    request, stream = REQUESTS[name]
    assert not stream
    return post(prov.build_request(request, HAIKU, stream=False))


def run_stream(prov: BedrockProvider, name: str) -> wire.StreamReply:
    request, stream = REQUESTS[name]
    assert stream
    http = prov.build_request(request, HAIKU, stream=True)
    assert http.url.startswith("https://bedrock-runtime.us-east-1.amazonaws.com/model/")
    return wire.open_stream(http)


def chunks_of(prov: BedrockProvider, reply: wire.StreamReply) -> list[ChatChunk]:
    return parse_events(prov.stream_parser(HAIKU), reply.events)


def test_text_response(prov: BedrockProvider) -> None:
    out = prov.parse_response(run(prov, "test_text_response"), HAIKU)
    assert out.message.text == "Hello! How can I help you today?"
    assert out.finish_reason == "stop"
    assert (out.usage.input_tokens, out.usage.output_tokens) == (8, 12)
    assert out.response_id == "3b4a6c1e-6f1d-4c9c-9a6e-0d2f9e8a7b10"
    assert out.provider_metadata["metrics"] == {"latencyMs": 597}


def test_streaming(prov: BedrockProvider) -> None:
    reply = run_stream(prov, "test_streaming")
    assert reply.headers["content-type"] == "application/vnd.amazon.eventstream"
    chunks = chunks_of(prov, reply)
    assert "".join(c.text for c in chunks) == "Hello! How can I help you today?"
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.output_tokens == 12


def test_tool_use(prov: BedrockProvider) -> None:
    out = prov.parse_response(run(prov, "test_tool_use"), HAIKU)
    [call] = out.message.tool_calls
    assert (call.id, call.name, call.arguments) == (
        "tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "top_song", {"sign": "WZPZ"})
    assert out.finish_reason == "tool_calls"


def test_tool_use_streaming(prov: BedrockProvider) -> None:
    chunks = chunks_of(prov, run_stream(prov, "test_tool_use_streaming"))
    deltas = [d for c in chunks for d in c.tool_calls]
    assert (deltas[0].id, deltas[0].name) == ("tooluse_kZJMlvQmRJ6eAyJE5GIl7Q", "top_song")
    assert "".join(d.arguments for d in deltas) == '{"sign": "WZPZ"}'
    assert chunks[-1].finish_reason == "tool_calls"


def test_throttled_429(prov: BedrockProvider) -> None:
    err = prov.parse_error(run(prov, "test_throttled_429"), HAIKU)
    assert type(err) is RateLimitError and err.retryable
    assert err.error_type == "ThrottlingException"
    assert err.request_id == "9d3a7f52-1c2b-4e8f-8a41-5b7c0d6e2f13"


def test_model_not_ready_429(prov: BedrockProvider) -> None:
    err = prov.parse_error(run(prov, "test_model_not_ready_429"), HAIKU)
    assert type(err) is OverloadedError and err.retryable and err.status == 429


def test_internal_error_500(prov: BedrockProvider) -> None:
    err = prov.parse_error(run(prov, "test_internal_error_500"), HAIKU)
    assert type(err) is ServerError and err.retryable


def test_service_unavailable_503(prov: BedrockProvider) -> None:
    err = prov.parse_error(run(prov, "test_service_unavailable_503"), HAIKU)
    assert type(err) is OverloadedError


def test_access_denied_403(prov: BedrockProvider) -> None:
    err = prov.parse_error(run(prov, "test_access_denied_403"), HAIKU)
    assert type(err) is AuthenticationError and not err.retryable


def test_input_too_long_400(prov: BedrockProvider) -> None:
    err = prov.parse_error(run(prov, "test_input_too_long_400"), HAIKU)
    assert type(err) is ContextWindowError and err.fallbackable


def test_content_filtered_400(prov: BedrockProvider) -> None:
    err = prov.parse_error(run(prov, "test_content_filtered_400"), HAIKU)
    assert type(err) is ContentPolicyError and not err.fallbackable


def test_throttled_in_stream(prov: BedrockProvider) -> None:
    reply = run_stream(prov, "test_throttled_in_stream")
    assert reply.status == 200
    with pytest.raises(RateLimitError, match="ThrottlingException"):
        chunks_of(prov, reply)
