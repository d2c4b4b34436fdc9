"""Cassette replay: hand-written interactions from Mistral's API reference, through the provider.

Each test sends the provider's request through polyroute's ``Transport``
(``polyroute.testing.wire``) to https://api.mistral.ai/v1/chat/completions; vcrpy answers from
``cassettes/mistral_wire/<test name>.yaml`` (record mode ``none``). Sources,
named again at the top of each cassette:

- https://docs.mistral.ai/api/#tag/chat/operation/chat_completion_v1_chat_completions_post
  (request fields, ChatCompletionResponse, streaming, finish_reason)
- https://docs.mistral.ai/capabilities/function_calling/ (retrieve_payment_status
  example, nine-character tool-call ids)
- https://docs.mistral.ai/capabilities/guardrailing/ (``safe_prompt``)
- https://docs.mistral.ai/deployment/laplateforme/tier/ (rate limits)
"""

from __future__ import annotations

import os

import pytest

from polyroute.errors import AuthenticationError, ContextWindowError, RateLimitError, ServerError
from polyroute.providers.base import HttpRequest, HttpResponse, ProviderSettings
from polyroute.testing import wire
from polyroute.testing.streams import parse_events
from polyroute.types import ChatRequest, GenerationParams, Message, ToolSpec
from polyroute_mistral import MistralProvider

pytestmark = pytest.mark.vcr

MODEL = "mistral-large-latest"
PAYMENT = ToolSpec(
    name="retrieve_payment_status",
    description="Get payment status of a transaction",
    parameters={"type": "object",
                "properties": {"transaction_id": {"type": "string",
                                                  "description": "The transaction id."}},
                "required": ["transaction_id"]},
)


@pytest.fixture
def prov() -> MistralProvider:
    key = os.environ.get("MISTRAL_API_KEY") or "cassette-fake-mistral-key-000000"
    return MistralProvider(ProviderSettings(name="mistral", type="mistral", api_key=key))


def ask(text: str = "What is the best French cheese?", **kw: object) -> ChatRequest:
    return ChatRequest(messages=[Message.user(text)], **kw)  # type: ignore[arg-type]


def post(http: HttpRequest) -> HttpResponse:
    assert http.url == "https://api.mistral.ai/v1/chat/completions"
    return wire.send(http)


def test_text_completion(prov: MistralProvider) -> None:
    req = ask(params=GenerationParams(temperature=0.2, seed=42, max_tokens=200))
    http = prov.build_request(req, MODEL, stream=False)
    assert http.json["random_seed"] == 42
    out = prov.parse_response(post(http), MODEL)
    assert out.message.text.startswith("Choosing the best French cheese")
    assert out.finish_reason == "stop"
    assert (out.usage.input_tokens, out.usage.output_tokens) == (10, 43)
    assert out.response_model == "mistral-large-latest"


def test_streaming(prov: MistralProvider) -> None:
    http = prov.build_request(ask(), MODEL, stream=True)
    assert http.url == "https://api.mistral.ai/v1/chat/completions"
    reply = wire.open_stream(http)
    assert reply.headers["content-type"].startswith("text/event-stream")
    chunks = parse_events(prov.stream_parser(MODEL), reply.events)
    assert "".join(c.text for c in chunks) == "Comté, Roquefort and Brie de Meaux are favourites."
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage is not None
    assert (chunks[-1].usage.input_tokens, chunks[-1].usage.output_tokens) == (10, 14)


def test_tool_calling(prov: MistralProvider) -> None:
    req = ask("What's the status of my transaction T1001?", tools=[PAYMENT],
              tool_choice="required")
    http = prov.build_request(req, MODEL, stream=False)
    assert http.json["tool_choice"] == "any"
    out = prov.parse_response(post(http), MODEL)
    assert out.finish_reason == "tool_calls"
    [call] = out.message.tool_calls
    assert (call.id, call.name, call.arguments) == (
        "D681PevKs", "retrieve_payment_status", {"transaction_id": "T1001"})


def test_rate_limited_429(prov: MistralProvider) -> None:
    resp = post(prov.build_request(ask(), MODEL, stream=False))
    err = prov.parse_error(resp, MODEL)
    assert type(err) is RateLimitError and err.retryable
    assert err.retry_after == 1.0 and err.status == 429


def test_server_error_500(prov: MistralProvider) -> None:
    err = prov.parse_error(post(prov.build_request(ask(), MODEL, stream=False)), MODEL)
    assert type(err) is ServerError and err.retryable


def test_auth_401(prov: MistralProvider) -> None:
    err = prov.parse_error(post(prov.build_request(ask(), MODEL, stream=False)), MODEL)
    assert isinstance(err, AuthenticationError) and not err.retryable
    assert err.reason == "Unauthorized"


def test_context_overflow(prov: MistralProvider) -> None:
    req = ask("Summarise: " + "lorem ipsum " * 20)
    err = prov.parse_error(post(prov.build_request(req, MODEL, stream=False)), MODEL)
    assert isinstance(err, ContextWindowError) and err.fallbackable


def test_safe_prompt_guardrail(prov: MistralProvider) -> None:
    guarded = MistralProvider(ProviderSettings(name="mistral", type="mistral",
                                               api_key=prov.settings.api_key,
                                               extra={"safe_prompt": True}))
    http = guarded.build_request(ask("How do I make a weapon at home?"), MODEL, stream=False)
    assert http.json["safe_prompt"] is True
    out = guarded.parse_response(post(http), MODEL)
    assert out.finish_reason == "stop"
    assert out.message.text.startswith("I'm sorry, but I can't assist with that.")
