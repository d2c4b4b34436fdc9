"""ChatRequest → Mistral chat completions body.

Field names from https://docs.mistral.ai/api/#tag/chat/operation/chat_completion_v1_chat_completions_post
and https://docs.mistral.ai/capabilities/function_calling/.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from polyroute.errors import BadRequestError
from polyroute.providers.base import ProviderSettings
from polyroute.types import (
    ChatRequest,
    GenerationParams,
    ImagePart,
    Message,
    NamedToolChoice,
    ResponseFormat,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from polyroute_mistral import MistralProvider, mistral_call_id

KEY = "mistral-test-key-0123456789abcdef"
WEATHER = ToolSpec(name="retrieve_payment_status", description="Get payment status",
                   parameters={"type": "object", "properties": {
                       "transaction_id": {"type": "string"}}, "required": ["transaction_id"]})


@pytest.fixture
def provider() -> MistralProvider:
    return MistralProvider(ProviderSettings(name="mistral", type="mistral", api_key=KEY))


def body_of(p: MistralProvider, request: ChatRequest, stream: bool = False) -> dict[str, Any]:
    http = p.build_request(request, "mistral-small-latest", stream=stream)
    assert isinstance(http.json, dict)
    return http.json


def test_url_headers_and_body(provider: MistralProvider) -> None:
    http = provider.build_request(ChatRequest(messages=[Message.system("Be brief."),
                                                        Message.user("Hi")]),
                                  "mistral-large-latest", stream=False)
    assert (http.method, http.url) == ("POST", "https://api.mistral.ai/v1/chat/completions")
    assert http.headers["Authorization"] == f"Bearer {KEY}"
    assert http.json == {"model": "mistral-large-latest", "messages": [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]}


def test_stream_flag_without_stream_options(provider: MistralProvider) -> None:
    http = provider.build_request(ChatRequest(messages=[Message.user("Hi")]), "m", stream=True)
    assert http.framing == "sse" and http.json["stream"] is True
    assert "stream_options" not in http.json
    assert http.headers["accept"] == "text/event-stream"


def test_params_map_seed_and_drop_top_k(provider: MistralProvider) -> None:
    params = GenerationParams(temperature=0.3, top_p=0.9, top_k=50, max_tokens=64,
                              stop=["\n\n"], seed=42, presence_penalty=0.1,
                              frequency_penalty=0.2, extra={"prompt_mode": "reasoning"})
    body = body_of(provider, ChatRequest(messages=[Message.user("x")], params=params))
    assert body["random_seed"] == 42 and "seed" not in body
    assert "top_k" not in body
    assert {k: body[k] for k in ("temperature", "top_p", "max_tokens", "stop",
                                 "presence_penalty", "frequency_penalty", "prompt_mode")} == {
        "temperature": 0.3, "top_p": 0.9, "max_tokens": 64, "stop": ["\n\n"],
        "presence_penalty": 0.1, "frequency_penalty": 0.2, "prompt_mode": "reasoning"}
    assert MistralProvider.supported_params is not None
    assert "top_k" not in MistralProvider.supported_params


def test_safe_prompt_from_settings() -> None:
    p = MistralProvider(ProviderSettings(name="m", type="mistral", api_key=KEY,
                                         extra={"safe_prompt": True}))
    assert body_of(p, ChatRequest(messages=[Message.user("x")]))["safe_prompt"] is True


@pytest.mark.parametrize(("choice", "wire"), [
    ("auto", "auto"), ("none", "none"), ("required", "any"),
    (NamedToolChoice(name="retrieve_payment_status"),
     {"type": "function", "function": {"name": "retrieve_payment_status"}}),
])
def test_tools_and_choice(provider: MistralProvider, choice: Any, wire: Any) -> None:
    body = body_of(provider, ChatRequest(messages=[Message.user("x")], tools=[WEATHER],
                                         tool_choice=choice, parallel_tool_calls=False))
    assert body["tools"] == [{"type": "function", "function": {
        "name": "retrieve_payment_status", "description": "Get payment status",
        "parameters": WEATHER.parameters}}]
    assert body["tool_choice"] == wire and body["parallel_tool_calls"] is False


def test_tool_call_ids_are_mapped_consistently(provider: MistralProvider) -> None:
    request = ChatRequest(tools=[WEATHER], messages=[
        Message.user("Status of T1001?"),
        Message(role="assistant", content=[
            ToolCallPart(id="call_9f8e7d6c5b4a", name="retrieve_payment_status",
                         arguments={"transaction_id": "T1001"}),
            ToolCallPart(id="D681PevKs", name="retrieve_payment_status",
                         arguments={"transaction_id": "T1002"}),
        ]),
        Message(role="tool", content=[
            ToolResultPart(tool_call_id="call_9f8e7d6c5b4a", content='{"status": "Paid"}'),
            ToolResultPart(tool_call_id="D681PevKs", content='{"status": "Unpaid"}'),
        ]),
    ])
    msgs = body_of(provider, request)["messages"]
    mapped = mistral_call_id("call_9f8e7d6c5b4a")
    assert re.fullmatch(r"[a-zA-Z0-9]{9}", mapped)
    assert msgs[1] == {"role": "assistant", "content": "", "tool_calls": [
        {"id": mapped, "type": "function", "function": {
            "name": "retrieve_payment_status", "arguments": '{"transaction_id":"T1001"}'}},
        {"id": "D681PevKs", "type": "function", "function": {
            "name": "retrieve_payment_status", "arguments": '{"transaction_id":"T1002"}'}},
    ]}
    assert msgs[2:] == [
        {"role": "tool", "tool_call_id": mapped, "content": '{"status": "Paid"}',
         "name": "retrieve_payment_status"},
        {"role": "tool", "tool_call_id": "D681PevKs", "content": '{"status": "Unpaid"}',
         "name": "retrieve_payment_status"},
    ]


@pytest.mark.parametrize("neutral", ["call_abc", "toolu_01A09q90qw90lq917835lq9",
                                     "gemini-call-0123456789abcdef", "x", "123456789a"])
def test_mistral_call_id(neutral: str) -> None:
    out = mistral_call_id(neutral)
    assert re.fullmatch(r"[a-zA-Z0-9]{9}", out)
    assert mistral_call_id(neutral) == out and out != neutral
    assert mistral_call_id("Ab3456789") == "Ab3456789"


def test_response_format(provider: MistralProvider) -> None:
    body = body_of(provider, ChatRequest(messages=[Message.user("x")],
                                         response_format=ResponseFormat(type="json_object")))
    assert body["response_format"] == {"type": "json_object"}
    schema = {"type": "object", "properties": {"name": {"type": "string"}}}
    body = body_of(provider, ChatRequest(messages=[Message.user("x")],
                                         response_format=ResponseFormat(
                                             type="json_schema", name="book",
                                             json_schema=schema, strict=True)))
    assert body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "book", "schema": schema, "strict": True}}


def test_images(provider: MistralProvider) -> None:
    msg = Message(role="user", content=[TextPart(text="What's in this image?"),
                                        ImagePart(url="https://example.com/a.jpg"),
                                        ImagePart(data="iVBOR", media_type="image/png")])
    assert body_of(provider, ChatRequest(messages=[msg]))["messages"][0]["content"] == [
        {"type": "text", "text": "What's in this image?"},
        {"type": "image_url", "image_url": "https://example.com/a.jpg"},
        {"type": "image_url", "image_url": "data:image/png;base64,iVBOR"},
    ]


def test_tool_message_needs_results(provider: MistralProvider) -> None:
    with pytest.raises(BadRequestError, match="ToolResultPart"):
        body_of(provider, ChatRequest(messages=[Message(role="tool", content="42")]))
