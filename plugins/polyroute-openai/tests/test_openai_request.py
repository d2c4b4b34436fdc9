"""Request building: neutral ChatRequest → Chat Completions body, byte for byte.

Field names checked against https://platform.openai.com/docs/api-reference/chat/create
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from polyroute.errors import BadRequestError, MissingSecretError
from polyroute.providers.base import ProviderSettings
from polyroute.secrets import Secret
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
from polyroute_openai import OpenAIProvider

KEY = "sk-test-abcdefghijklmnopqrstuvwxyz012345"


def provider(**kw: Any) -> OpenAIProvider:
    kw.setdefault("api_key", Secret(KEY))
    return OpenAIProvider(ProviderSettings(name="openai", type="openai", **kw))


def wire(body: Any) -> bytes:
    """What the core transport sends."""
    return json.dumps(body, separators=(",", ":")).encode()


WEATHER = ToolSpec(
    name="get_weather",
    description="Weather for a city",
    parameters={"type": "object", "properties": {"city": {"type": "string"}},
                "required": ["city"]},
    strict=True,
)


def test_minimal_request_bytes() -> None:
    req = provider().build_request(ChatRequest(messages=[Message.user("Hello!")]), "gpt-4.1",
                                   stream=False)
    assert req.method == "POST"
    assert req.url == "https://api.openai.com/v1/chat/completions"
    assert req.framing is None
    assert req.headers == {"Authorization": f"Bearer {KEY}"}
    assert wire(req.json) == (
        b'{"model":"gpt-4.1","messages":[{"role":"user","content":"Hello!"}]}'
    )


def test_every_field() -> None:
    request = ChatRequest(
        messages=[
            Message.system("Be brief."),
            Message(role="user", content=[
                TextPart(text="What is this?"),
                ImagePart(url="https://example.com/a.png", detail="low"),
                ImagePart(data="iVBORw0KGgo=", media_type="image/png"),
            ], name="alice"),
            Message(role="assistant", content=[
                ToolCallPart(id="call_1", name="get_weather", arguments={"city": "Paris"}),
            ]),
            Message(role="tool", content=[
                ToolResultPart(tool_call_id="call_1", content="sunny"),
            ]),
        ],
        params=GenerationParams(
            temperature=0.2, top_p=0.9, top_k=40, max_tokens=64, stop=["END"],
            frequency_penalty=0.1, presence_penalty=0.3, seed=7,
            extra={"reasoning_effort": "low", "user": "u1"},
        ),
        tools=[WEATHER],
        tool_choice=NamedToolChoice(name="get_weather"),
        parallel_tool_calls=False,
        response_format=ResponseFormat(
            type="json_schema", name="answer", strict=True,
            json_schema={"type": "object", "properties": {"a": {"type": "string"}}},
        ),
    )
    body = provider().build_request(request, "gpt-4.1", stream=False).json
    assert body == {
        "model": "gpt-4.1",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "name": "alice", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url",
                 "image_url": {"url": "https://example.com/a.png", "detail": "low"}},
                {"type": "image_url",
                 "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
            ]},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ],
        "tools": [{"type": "function", "function": {
            "name": "get_weather", "description": "Weather for a city",
            "parameters": WEATHER.parameters, "strict": True}}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": False,
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "answer", "schema": {"type": "object",
                                         "properties": {"a": {"type": "string"}}},
            "strict": True}},
        "temperature": 0.2,
        "top_p": 0.9,
        "max_completion_tokens": 64,
        "stop": ["END"],
        "frequency_penalty": 0.1,
        "presence_penalty": 0.3,
        "seed": 7,
        "reasoning_effort": "low",
        "user": "u1",
    }
    assert "top_k" not in body


@pytest.mark.parametrize("choice", ["auto", "none", "required"])
def test_tool_choice_strings(choice: str) -> None:
    req = ChatRequest(messages=[Message.user("hi")], tools=[WEATHER],
                      tool_choice=choice)  # type: ignore[arg-type]
    assert provider().build_body(req, "m", stream=False)["tool_choice"] == choice


def test_json_object_and_text_formats() -> None:
    req = ChatRequest(messages=[Message.user("hi")],
                      response_format=ResponseFormat(type="json_object"))
    assert provider().build_body(req, "m", stream=False)["response_format"] == {
        "type": "json_object"}
    req = ChatRequest(messages=[Message.user("hi")], response_format=ResponseFormat())
    assert "response_format" not in provider().build_body(req, "m", stream=False)


def test_streaming_request() -> None:
    req = provider().build_request(ChatRequest(messages=[Message.user("hi")]), "gpt-4o",
                                   stream=True)
    assert req.framing == "sse"
    assert req.json["stream"] is True
    assert req.json["stream_options"] == {"include_usage": True}
    no_usage = provider(extra={"include_usage": False})
    body = no_usage.build_body(ChatRequest(messages=[Message.user("hi")]), "m", stream=True)
    assert "stream_options" not in body


def test_legacy_max_tokens_and_top_k_for_compatible_servers() -> None:
    p = provider(base_url="http://localhost:8000/v1",
                 extra={"max_tokens_field": "max_tokens", "accepts_top_k": True})
    req = ChatRequest(messages=[Message.user("hi")],
                      params=GenerationParams(max_tokens=5, top_k=3))
    body = p.build_body(req, "llama", stream=False)
    assert body["max_tokens"] == 5 and "max_completion_tokens" not in body
    assert body["top_k"] == 3
    assert p.endpoint_url("llama") == "http://localhost:8000/v1/chat/completions"


def test_developer_role_option() -> None:
    p = provider(extra={"system_role": "developer"})
    body = p.build_body(ChatRequest(messages=[Message.system("x"), Message.user("y")]),
                        "o3", stream=False)
    assert body["messages"][0] == {"role": "developer", "content": "x"}


def test_assistant_text_with_tool_calls_and_plain_assistant() -> None:
    p = provider()
    msgs = p.convert_messages([
        Message.assistant("Sure."),
        Message(role="assistant", content=[
            TextPart(text="Checking"),
            ToolCallPart(id="c1", name="f", arguments={}),
            ToolCallPart(id="c2", name="g", arguments={"x": [1, 2]}),
        ]),
    ])
    assert msgs[0] == {"role": "assistant", "content": "Sure."}
    assert msgs[1]["content"] == "Checking"
    assert [c["function"]["arguments"] for c in msgs[1]["tool_calls"]] == ["{}", '{"x":[1,2]}']


def test_text_only_parts_become_a_string_and_tool_message_needs_results() -> None:
    p = provider()
    msgs = p.convert_messages([Message(role="user", content=[TextPart(text="a"),
                                                             TextPart(text="b")])])
    assert msgs == [{"role": "user", "content": "ab"}]
    with pytest.raises(BadRequestError):
        p.convert_messages([Message(role="tool", content="orphan result")])


def test_headers_org_project_and_custom() -> None:
    p = provider(organization="org-1", project="proj_1", headers={"X-Custom": "1"})
    headers = p.build_request(ChatRequest(messages=[Message.user("hi")]), "m",
                              stream=False).headers
    assert headers == {"Authorization": f"Bearer {KEY}", "OpenAI-Organization": "org-1",
                       "OpenAI-Project": "proj_1", "X-Custom": "1"}


def test_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-0123456789abcdef")
    p = OpenAIProvider(ProviderSettings(name="o", type="openai"))
    assert p.is_configured() is None
    assert p.auth_headers() == {"Authorization": "Bearer sk-from-env-0123456789abcdef"}


def test_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    p = OpenAIProvider(ProviderSettings(name="o", type="openai"))
    assert p.is_configured() == "no API key (OPENAI_API_KEY is not set)"
    with pytest.raises(MissingSecretError):
        p.build_request(ChatRequest(messages=[Message.user("hi")]), "m", stream=False)


def test_optional_key_sends_no_auth(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak-0123456789")
    monkeypatch.delenv("VLLM_API_KEY", raising=False)
    p = OpenAIProvider(ProviderSettings(
        name="vllm", type="openai", base_url="http://localhost:8000/v1",
        requires_api_key=False, api_key_env=("VLLM_API_KEY",)))
    assert p.is_configured() is None
    assert p.request_headers() == {}
    # a config that expanded the template into an unset env reference
    p2 = OpenAIProvider(ProviderSettings(
        name="vllm", type="openai", api_key=Secret(env="VLLM_API_KEY"),
        requires_api_key=False))
    assert p2.api_key() is None and p2.is_configured() is None


def test_template_key_env_never_falls_back_to_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-must-not-leak-0123456789")
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    p = OpenAIProvider(ProviderSettings(name="groq", type="openai",
                                        api_key_env=("GROQ_API_KEY",)))
    assert p.is_configured() == "no API key (GROQ_API_KEY is not set)"


def test_secret_not_in_repr() -> None:
    p = provider(headers={"X-Secret": "hunter2-hunter2"})
    assert KEY not in repr(p)
    assert KEY not in repr(p.settings)
    assert "hunter2" not in repr(p.settings)
    assert repr(p) == "<OpenAIProvider 'openai' type='openai' url='https://api.openai.com/v1'>"


def test_list_models_request() -> None:
    req = provider().list_models_request()
    assert req is not None and req.method == "GET"
    assert req.url == "https://api.openai.com/v1/models"
