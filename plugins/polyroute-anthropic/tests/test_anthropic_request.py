"""Request building, byte for byte (sans-IO): ChatRequest → POST /v1/messages."""

from __future__ import annotations

import json
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
from polyroute_anthropic import AnthropicProvider

MODEL = "claude-sonnet-4-5"
WEATHER = ToolSpec(
    name="get_weather",
    description="Get the current weather in a given location",
    parameters={
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
)


def body(provider: AnthropicProvider, request: ChatRequest, *, stream: bool = False,
         model: str = MODEL) -> dict[str, Any]:
    http = provider.build_request(request, model, stream=stream)
    assert isinstance(http.json, dict)
    return http.json


def test_minimal_request_bytes(provider: AnthropicProvider) -> None:
    req = ChatRequest(messages=[Message.user("Hello, Claude")], params=GenerationParams(
        max_tokens=1024))
    http = provider.build_request(req, MODEL, stream=False)
    assert http.method == "POST"
    assert http.url == "https://api.anthropic.com/v1/messages"
    assert http.framing is None
    wire = json.dumps(http.json, separators=(",", ":"))
    assert wire == (
        '{"model":"claude-sonnet-4-5","max_tokens":1024,'
        '"messages":[{"role":"user","content":"Hello, Claude"}]}'
    )


def test_headers(provider: AnthropicProvider) -> None:
    headers = provider.build_request(
        ChatRequest(messages=[Message.user("hi")]), MODEL, stream=False
    ).headers
    assert headers["x-api-key"].startswith("sk-ant-api03-TESTKEY")
    assert headers["anthropic-version"] == "2023-06-01"
    assert headers["content-type"] == "application/json"
    assert "anthropic-beta" not in headers
    assert "authorization" not in {k.lower() for k in headers}


def test_headers_version_beta_and_extra_headers() -> None:
    provider = AnthropicProvider(ProviderSettings(
        name="claude", type="anthropic", api_key="k" * 20, api_version="2099-01-01",
        base_url="https://proxy.example/anthropic/",
        headers={"x-trace": "1"},
        extra={"beta": ["context-1m-2025-08-07", "token-efficient-tools-2025-02-19"]},
    ))
    http = provider.build_request(ChatRequest(messages=[Message.user("hi")]), MODEL, stream=True)
    assert http.url == "https://proxy.example/anthropic/v1/messages"
    assert http.headers["anthropic-version"] == "2099-01-01"
    assert http.headers["anthropic-beta"] == (
        "context-1m-2025-08-07,token-efficient-tools-2025-02-19"
    )
    assert http.headers["x-trace"] == "1"
    assert http.framing == "sse"
    assert http.json["stream"] is True


def test_api_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env-abcdef")
    provider = AnthropicProvider(ProviderSettings(name="a", type="anthropic"))
    assert provider.is_configured() is None
    http = provider.build_request(ChatRequest(messages=[Message.user("x")]), MODEL, stream=False)
    assert http.headers["x-api-key"] == "sk-ant-from-env-abcdef"


def test_missing_key_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    provider = AnthropicProvider(ProviderSettings(name="a", type="anthropic"))
    assert "ANTHROPIC_API_KEY" in (provider.is_configured() or "")


def test_system_messages_are_lifted_and_joined(provider: AnthropicProvider) -> None:
    req = ChatRequest(messages=[
        Message.system("You are terse."),
        Message.user("Hi"),
        Message.assistant("Hello."),
        Message.system("Answer in French."),
        Message.user("How are you?"),
    ])
    b = body(provider, req)
    assert b["system"] == "You are terse.\n\nAnswer in French."
    assert [m["role"] for m in b["messages"]] == ["user", "assistant", "user"]
    assert all(m["role"] != "system" for m in b["messages"])


def test_no_system_key_without_system_messages(provider: AnthropicProvider) -> None:
    assert "system" not in body(provider, ChatRequest(messages=[Message.user("x")]))


def test_consecutive_same_role_messages_are_merged(provider: AnthropicProvider) -> None:
    req = ChatRequest(messages=[
        Message.user("first"), Message.user("second"),
        Message.assistant("a"), Message.assistant("b"),
    ])
    msgs = body(provider, req)["messages"]
    assert msgs == [
        {"role": "user", "content": [{"type": "text", "text": "first"},
                                     {"type": "text", "text": "second"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "a"},
                                          {"type": "text", "text": "b"}]},
    ]


def test_tool_calls_and_results(provider: AnthropicProvider) -> None:
    req = ChatRequest(
        messages=[
            Message.user("Weather in SF and NYC?"),
            Message(role="assistant", content=[
                TextPart(text="Let me check."),
                ToolCallPart(id="toolu_1", name="get_weather", arguments={"location": "SF"}),
                ToolCallPart(id="toolu_2", name="get_weather", arguments={"location": "NYC"}),
            ]),
            Message(role="tool", content=[ToolResultPart(tool_call_id="toolu_1", content="15C")]),
            Message(role="tool", content=[
                ToolResultPart(tool_call_id="toolu_2", content="timeout", is_error=True)
            ]),
            Message.user("Thanks, summarise."),
        ],
        tools=[WEATHER],
    )
    msgs = body(provider, req)["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert msgs[1]["content"] == [
        {"type": "text", "text": "Let me check."},
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"location": "SF"}},
        {"type": "tool_use", "id": "toolu_2", "name": "get_weather",
         "input": {"location": "NYC"}},
    ]
    # both results in one user message, tool_result blocks first, then the text
    assert msgs[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "15C"},
        {"type": "tool_result", "tool_use_id": "toolu_2", "content": "timeout",
         "is_error": True},
        {"type": "text", "text": "Thanks, summarise."},
    ]


def test_tool_message_without_result_part_is_rejected(provider: AnthropicProvider) -> None:
    req = ChatRequest(messages=[Message.user("x"), Message(role="tool", content="42")])
    with pytest.raises(BadRequestError, match="ToolResultPart"):
        provider.build_request(req, MODEL, stream=False)


def test_empty_text_is_dropped(provider: AnthropicProvider) -> None:
    req = ChatRequest(messages=[
        Message.user("x"),
        Message(role="assistant", content=[
            TextPart(text=""), ToolCallPart(id="t", name="f", arguments={})
        ]),
    ])
    assert body(provider, req)["messages"][1]["content"] == [
        {"type": "tool_use", "id": "t", "name": "f", "input": {}}
    ]


def test_images(provider: AnthropicProvider) -> None:
    req = ChatRequest(messages=[Message(role="user", content=[
        ImagePart(data="iVBORw0KGgoAAAANSUhEUg==", media_type="image/png"),
        ImagePart(data="/9j/4AAQSkZJRg=="),  # media type sniffed: JPEG
        ImagePart(url="data:image/webp;base64,UklGRiQAAABXRUJQ"),
        ImagePart(url="https://upload.wikimedia.org/ant.jpg"),
        TextPart(text="What is in these images?"),
    ])])
    content = body(provider, req)["messages"][0]["content"]
    assert content[0] == {"type": "image", "source": {
        "type": "base64", "media_type": "image/png", "data": "iVBORw0KGgoAAAANSUhEUg=="}}
    assert content[1]["source"]["media_type"] == "image/jpeg"
    assert content[2]["source"] == {
        "type": "base64", "media_type": "image/webp", "data": "UklGRiQAAABXRUJQ"}
    assert content[3] == {"type": "image", "source": {
        "type": "url", "url": "https://upload.wikimedia.org/ant.jpg"}}
    assert content[4] == {"type": "text", "text": "What is in these images?"}


def test_image_without_media_type_is_rejected(provider: AnthropicProvider) -> None:
    req = ChatRequest(messages=[Message(role="user", content=[ImagePart(data="AAAA")])])
    with pytest.raises(BadRequestError, match="media_type"):
        provider.build_request(req, MODEL, stream=False)


@pytest.mark.parametrize(
    ("model", "params", "settings_extra", "expected"),
    [
        ("claude-sonnet-4-5", GenerationParams(max_tokens=50), {}, 50),
        ("claude-sonnet-4-5", GenerationParams(), {}, 64_000),
        ("claude-opus-4-1-20250805", GenerationParams(), {}, 32_000),  # via alias
        ("claude-3-5-haiku-latest", GenerationParams(), {}, 8_192),
        ("claude-unknown-9", GenerationParams(), {}, 4096),
        ("claude-unknown-9", GenerationParams(), {"default_max_tokens": 1000}, 1000),
    ],
)
def test_max_tokens_is_always_sent(
    model: str, params: GenerationParams, settings_extra: dict[str, Any], expected: int
) -> None:
    provider = AnthropicProvider(ProviderSettings(
        name="a", type="anthropic", api_key="k" * 20, extra=settings_extra))
    req = ChatRequest(messages=[Message.user("x")], params=params)
    assert body(provider, req, model=model)["max_tokens"] == expected


def test_sampling_params_and_unsupported_ones_dropped(provider: AnthropicProvider) -> None:
    params = GenerationParams(
        temperature=0.2, top_p=0.9, top_k=40, max_tokens=10, stop=["\n\nHuman:", "END"],
        frequency_penalty=0.5, presence_penalty=0.5, seed=7,
        extra={"thinking": {"type": "enabled", "budget_tokens": 2048},
               "metadata": {"user_id": "u-1"}},
    )
    b = body(provider, ChatRequest(messages=[Message.user("x")], params=params))
    assert b["temperature"] == 0.2
    assert b["top_p"] == 0.9
    assert b["top_k"] == 40
    assert b["stop_sequences"] == ["\n\nHuman:", "END"]
    assert b["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert b["metadata"] == {"user_id": "u-1"}
    for dropped in ("frequency_penalty", "presence_penalty", "seed", "stop"):
        assert dropped not in b


def test_tools_definition(provider: AnthropicProvider) -> None:
    b = body(provider, ChatRequest(messages=[Message.user("x")], tools=[
        WEATHER, ToolSpec(name="noop")]))
    assert b["tools"] == [
        {"name": "get_weather", "description": "Get the current weather in a given location",
         "input_schema": WEATHER.parameters},
        {"name": "noop", "input_schema": {"type": "object", "properties": {}}},
    ]
    assert "tool_choice" not in b


@pytest.mark.parametrize(
    ("choice", "parallel", "expected"),
    [
        ("auto", None, {"type": "auto"}),
        ("required", None, {"type": "any"}),
        ("none", None, {"type": "none"}),
        (NamedToolChoice(name="get_weather"), None, {"type": "tool", "name": "get_weather"}),
        (None, False, {"type": "auto", "disable_parallel_tool_use": True}),
        ("required", False, {"type": "any", "disable_parallel_tool_use": True}),
        (NamedToolChoice(name="get_weather"), False,
         {"type": "tool", "name": "get_weather", "disable_parallel_tool_use": True}),
        ("none", False, {"type": "none"}),
        (None, True, None),
    ],
)
def test_tool_choice(
    provider: AnthropicProvider, choice: Any, parallel: bool | None,
    expected: dict[str, Any] | None,
) -> None:
    req = ChatRequest(messages=[Message.user("x")], tools=[WEATHER], tool_choice=choice,
                      parallel_tool_calls=parallel)
    assert body(provider, req).get("tool_choice") == expected


def test_tool_choice_without_tools_is_not_sent(provider: AnthropicProvider) -> None:
    b = body(provider, ChatRequest(messages=[Message.user("x")], tool_choice="required"))
    assert "tool_choice" not in b and "tools" not in b


SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}


def test_json_schema_is_emulated_with_a_forced_tool(provider: AnthropicProvider) -> None:
    req = ChatRequest(messages=[Message.user("Who?")], response_format=ResponseFormat(
        type="json_schema", name="Person", json_schema=SCHEMA))
    b = body(provider, req)
    assert b["tools"] == [{
        "name": "structured_output__Person",
        "description": b["tools"][0]["description"],
        "input_schema": SCHEMA,
    }]
    assert b["tool_choice"] == {"type": "tool", "name": "structured_output__Person"}
    assert "response_format" not in b


def test_json_object_uses_an_open_schema(provider: AnthropicProvider) -> None:
    req = ChatRequest(messages=[Message.user("x")],
                      response_format=ResponseFormat(type="json_object"))
    b = body(provider, req)
    assert b["tools"][0]["name"] == "structured_output__json"
    assert b["tools"][0]["input_schema"] == {"type": "object", "additionalProperties": True}


def test_json_with_user_tools_requires_some_tool(provider: AnthropicProvider) -> None:
    fmt = ResponseFormat(type="json_schema", name="a b/c", json_schema=SCHEMA)
    b = body(provider, ChatRequest(messages=[Message.user("x")], tools=[WEATHER],
                                   response_format=fmt))
    assert [t["name"] for t in b["tools"]] == ["get_weather", "structured_output__a_b_c"]
    assert b["tool_choice"] == {"type": "any"}
    forced = ChatRequest(messages=[Message.user("x")], tools=[WEATHER], response_format=fmt,
                         tool_choice=NamedToolChoice(name="get_weather"))
    assert body(provider, forced)["tool_choice"] == {"type": "tool", "name": "get_weather"}


def test_text_response_format_changes_nothing(provider: AnthropicProvider) -> None:
    req = ChatRequest(messages=[Message.user("x")], response_format=ResponseFormat(type="text"))
    assert "tools" not in body(provider, req)


def test_extra_wins_over_computed_fields(provider: AnthropicProvider) -> None:
    params = GenerationParams(extra={"system": [{"type": "text", "text": "cached",
                                                  "cache_control": {"type": "ephemeral"}}]})
    req = ChatRequest(messages=[Message.system("plain"), Message.user("x")], params=params)
    assert body(provider, req)["system"][0]["cache_control"] == {"type": "ephemeral"}
