"""ChatRequest → Cohere /v2/chat body. Field names from https://docs.cohere.com/reference/chat."""

from __future__ import annotations

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
from polyroute_cohere import CohereProvider

KEY = "co-test-key-0123456789abcdefghij"
WEATHER = ToolSpec(name="get_weather", description="gets the weather of a given location",
                   parameters={"type": "object", "properties": {"location": {
                       "type": "string", "description": "the location to get the weather"}},
                       "required": ["location"]})
TIME = ToolSpec(name="get_time", parameters={"type": "object", "properties": {}})


@pytest.fixture
def provider() -> CohereProvider:
    return CohereProvider(ProviderSettings(name="cohere", type="cohere", api_key=KEY))


def body_of(p: CohereProvider, request: ChatRequest, stream: bool = False) -> dict[str, Any]:
    http = p.build_request(request, "command-a-03-2025", stream=stream)
    assert isinstance(http.json, dict)
    return http.json


def test_url_headers_and_messages(provider: CohereProvider) -> None:
    http = provider.build_request(ChatRequest(messages=[Message.system("Be brief."),
                                                        Message.user("Hi")]),
                                  "command-a-03-2025", stream=True)
    assert (http.method, http.url) == ("POST", "https://api.cohere.com/v2/chat")
    assert http.headers["Authorization"] == f"Bearer {KEY}"
    assert http.framing == "sse"
    assert http.json == {"model": "command-a-03-2025", "stream": True, "messages": [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]}


def test_params(provider: CohereProvider) -> None:
    params = GenerationParams(temperature=0.3, top_p=0.75, top_k=40, max_tokens=100,
                              stop=["END"], seed=7, frequency_penalty=0.2,
                              extra={"safety_mode": "STRICT"})
    body = body_of(provider, ChatRequest(messages=[Message.user("x")], params=params))
    assert {k: v for k, v in body.items() if k not in ("model", "messages")} == {
        "temperature": 0.3, "p": 0.75, "k": 40, "max_tokens": 100, "stop_sequences": ["END"],
        "seed": 7, "frequency_penalty": 0.2, "safety_mode": "STRICT"}


@pytest.mark.parametrize(("choice", "wire", "names"), [
    (None, None, ["get_weather", "get_time"]),
    ("auto", None, ["get_weather", "get_time"]),
    ("required", "REQUIRED", ["get_weather", "get_time"]),
    ("none", "NONE", ["get_weather", "get_time"]),
    (NamedToolChoice(name="get_time"), "REQUIRED", ["get_time"]),
])
def test_tools_and_choice(provider: CohereProvider, choice: Any, wire: str | None,
                          names: list[str]) -> None:
    body = body_of(provider, ChatRequest(messages=[Message.user("x")], tools=[WEATHER, TIME],
                                         tool_choice=choice))
    assert [t["function"]["name"] for t in body["tools"]] == names
    assert body.get("tool_choice") == wire
    assert body["tools"][0]["type"] == "function"
    with pytest.raises(BadRequestError, match="nope"):
        body_of(provider, ChatRequest(messages=[Message.user("x")], tools=[WEATHER],
                                      tool_choice=NamedToolChoice(name="nope")))


def test_strict_tools(provider: CohereProvider) -> None:
    strict = WEATHER.model_copy(update={"strict": True})
    body = body_of(provider, ChatRequest(messages=[Message.user("x")], tools=[strict]))
    assert body["strict_tools"] is True


def test_tool_round_trip(provider: CohereProvider) -> None:
    request = ChatRequest(tools=[WEATHER], messages=[
        Message.user("What's the weather in Toronto?"),
        Message(role="assistant", content=[
            TextPart(text=""),
            ToolCallPart(id="get_weather_1byjy32y4hvq", name="get_weather",
                         arguments={"location": "Toronto"})]),
        Message(role="tool", content=[
            ToolResultPart(tool_call_id="get_weather_1byjy32y4hvq",
                           content='[{"temperature": {"toronto": "5 C"}}]'),
            ToolResultPart(tool_call_id="x", content="boom", is_error=True)]),
    ])
    msgs = body_of(provider, request)["messages"]
    assert msgs[1] == {"role": "assistant", "tool_calls": [
        {"id": "get_weather_1byjy32y4hvq", "type": "function",
         "function": {"name": "get_weather", "arguments": '{"location": "Toronto"}'}}]}
    assert msgs[2:] == [
        {"role": "tool", "tool_call_id": "get_weather_1byjy32y4hvq",
         "content": '[{"temperature": {"toronto": "5 C"}}]'},
        {"role": "tool", "tool_call_id": "x", "content": "Error: boom"},
    ]


def test_response_format_and_images(provider: CohereProvider) -> None:
    schema = {"type": "object", "properties": {"title": {"type": "string"}}}
    body = body_of(provider, ChatRequest(messages=[Message.user("x")], response_format=
                                         ResponseFormat(type="json_schema", json_schema=schema)))
    assert body["response_format"] == {"type": "json_object", "json_schema": schema}
    body = body_of(provider, ChatRequest(messages=[Message.user("x")],
                                         response_format=ResponseFormat(type="json_object")))
    assert body["response_format"] == {"type": "json_object"}
    msg = Message(role="user", content=[TextPart(text="Describe"),
                                        ImagePart(data="iVBOR", media_type="image/png",
                                                  detail="low")])
    assert body_of(provider, ChatRequest(messages=[msg]))["messages"][0]["content"] == [
        {"type": "text", "text": "Describe"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR",
                                            "detail": "low"}}]


def test_safety_mode_from_settings() -> None:
    p = CohereProvider(ProviderSettings(name="c", type="cohere", api_key=KEY,
                                        extra={"safety_mode": "CONTEXTUAL"}))
    assert body_of(p, ChatRequest(messages=[Message.user("x")]))["safety_mode"] == "CONTEXTUAL"


def test_tool_message_needs_results(provider: CohereProvider) -> None:
    with pytest.raises(BadRequestError, match="ToolResultPart"):
        body_of(provider, ChatRequest(messages=[Message(role="tool", content="42")]))
