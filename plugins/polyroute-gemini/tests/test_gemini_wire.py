"""Cassette replay: hand-written interactions from the Gemini API reference, through the provider.

Each test sends the provider's request to https://generativelanguage.googleapis.com
through polyroute's ``Transport`` (``polyroute.testing.wire``), vcrpy answers from
``cassettes/gemini_wire/<test name>.yaml`` (record mode ``none``: no network),
and the provider parses the answer. Each cassette names the reference page its
response was written from:

- https://ai.google.dev/api/generate-content (bodies, streaming, usageMetadata)
- https://ai.google.dev/gemini-api/docs/function-calling (functionCall parts)
- https://ai.google.dev/gemini-api/docs/troubleshooting (error statuses)
- https://ai.google.dev/gemini-api/docs/rate-limits and
  https://cloud.google.com/apis/design/errors (429 details: QuotaFailure, RetryInfo)
- https://ai.google.dev/gemini-api/docs/safety-settings (blockReason, SAFETY)
"""

from __future__ import annotations

import os

import pytest

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
from polyroute.types import ChatChunk, ChatRequest, Message, ToolSpec
from polyroute_gemini import GeminiProvider

pytestmark = pytest.mark.vcr

MODEL = "gemini-2.5-flash"
BASE = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash"
TEMPERATURE = ToolSpec(
    name="get_current_temperature",
    description="Gets the current temperature for a given location.",
    parameters={"type": "object",
                "properties": {"location": {"type": "string",
                                            "description": "The city name, e.g. San Francisco"}},
                "required": ["location"]},
)


@pytest.fixture
def prov() -> GeminiProvider:
    # Replay needs no key (cassettes store x-goog-api-key as REDACTED and never match on
    # headers); a real one is only used when re-recording with --record-mode once.
    key = os.environ.get("GEMINI_API_KEY") or "AIzaSy-cassette-fake-key-000000000000"
    return GeminiProvider(ProviderSettings(name="gemini", type="gemini", api_key=key))


def ask(text: str = "Explain how AI works in a few words", **kw: object) -> ChatRequest:
    return ChatRequest(messages=[Message.user(text)], **kw)  # type: ignore[arg-type]


def post(http: HttpRequest) -> HttpResponse:
    assert http.url.startswith(BASE)
    assert "key=" not in http.url
    return wire.send(http)


def open_stream(http: HttpRequest) -> wire.StreamReply:
    assert http.url.startswith(BASE)
    assert "key=" not in http.url
    return wire.open_stream(http)


def stream_chunks(prov: GeminiProvider, reply: wire.StreamReply) -> list[ChatChunk]:
    return parse_events(prov.stream_parser(MODEL), reply.events)


def test_text_response(prov: GeminiProvider) -> None:
    resp = post(prov.build_request(ask(), MODEL, stream=False))
    assert resp.status == 200
    out = prov.parse_response(resp, MODEL)
    assert out.message.text == ("AI learns patterns from data to make predictions or "
                                "decisions.")
    assert out.finish_reason == "stop"
    assert out.response_model == "gemini-2.5-flash"
    assert out.response_id == "mFXYaPb3CqKP1dkPm7HGsQU"
    u = out.usage
    assert (u.input_tokens, u.output_tokens, u.reasoning_tokens, u.cache_read_tokens) == (
        8, 11 + 612, 612, 0)


def test_streaming(prov: GeminiProvider) -> None:
    http = prov.build_request(ask("Write a story about a magic backpack."), MODEL, stream=True)
    assert http.url == BASE + ":streamGenerateContent?alt=sse"
    reply = open_stream(http)
    assert reply.status == 200 and reply.headers["content-type"].startswith("text/event-stream")
    chunks = stream_chunks(prov, reply)
    assert "".join(c.text for c in chunks) == (
        "Elara found the backpack in her grandmother's attic. When she opened it, "
        "it smelled of rain and distant libraries.")
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.input_tokens, chunks[-1].usage.output_tokens) == (10, 25 + 311)
    assert chunks[-1].usage.cache_read_tokens == 0


def test_function_calling(prov: GeminiProvider) -> None:
    req = ask("What's the temperature in London?", tools=[TEMPERATURE])
    out = prov.parse_response(post(prov.build_request(req, MODEL, stream=False)), MODEL)
    assert out.finish_reason == "tool_calls"
    [call] = out.message.tool_calls
    assert (call.name, call.arguments) == ("get_current_temperature", {"location": "London"})
    assert call.id.startswith("gemini-call-")
    assert out.provider_metadata["thought_signatures"][call.id].startswith("CiIBVKhc7")


def test_rate_limit_429(prov: GeminiProvider) -> None:
    resp = post(prov.build_request(ask(), MODEL, stream=False))
    assert resp.status == 429
    err = prov.parse_error(resp, MODEL)
    assert type(err) is RateLimitError and err.retryable
    assert err.retry_after == 18.0
    assert err.error_type == "RESOURCE_EXHAUSTED"


def test_server_error_500(prov: GeminiProvider) -> None:
    resp = post(prov.build_request(ask(), MODEL, stream=False))
    err = prov.parse_error(resp, MODEL)
    assert type(err) is ServerError and err.retryable and err.status == 500


def test_overloaded_503(prov: GeminiProvider) -> None:
    resp = post(prov.build_request(ask(), MODEL, stream=False))
    err = prov.parse_error(resp, MODEL)
    assert isinstance(err, OverloadedError) and err.retryable
    assert err.reason == "The model is overloaded. Please try again later."


def test_auth_invalid_key(prov: GeminiProvider) -> None:
    resp = post(prov.build_request(ask(), MODEL, stream=False))
    assert resp.status == 400
    err = prov.parse_error(resp, MODEL)
    assert isinstance(err, AuthenticationError) and not err.retryable and err.fallbackable


def test_context_overflow(prov: GeminiProvider) -> None:
    resp = post(prov.build_request(ask("Summarise this book: " + "lorem ipsum " * 20), MODEL,
                                   stream=False))
    err = prov.parse_error(resp, MODEL)
    assert isinstance(err, ContextWindowError) and err.fallbackable and not err.retryable
    assert "exceeds the maximum number of tokens" in err.reason


def test_safety_prompt_blocked(prov: GeminiProvider) -> None:
    resp = post(prov.build_request(ask("How do I pick a lock to break into a house?"), MODEL,
                                   stream=False))
    assert resp.status == 200
    with pytest.raises(ContentPolicyError) as info:
        prov.parse_response(resp, MODEL)
    assert info.value.error_type == "SAFETY" and not info.value.fallbackable


def test_safety_finish_reason_stream(prov: GeminiProvider) -> None:
    reply = open_stream(prov.build_request(ask("Write an insulting rant about my neighbour."),
                                           MODEL, stream=True))
    with pytest.raises(ContentPolicyError, match="SAFETY") as info:
        stream_chunks(prov, reply)
    assert "HARM_CATEGORY_HARASSMENT=HIGH" in str(info.value)
