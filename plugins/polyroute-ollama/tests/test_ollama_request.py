"""Request translation: host resolution, body fields, options, messages, tools."""

from __future__ import annotations

import logging

import pytest

from polyroute.errors import BadRequestError, ConfigError
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
from polyroute_ollama import OllamaProvider, normalize_host

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
TOOL = ToolSpec(name="get_weather", description="Weather",
                parameters={"type": "object", "properties": {"city": {"type": "string"}}})


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)


def make(**kw: object) -> OllamaProvider:
    return OllamaProvider(ProviderSettings(name="local", type="ollama", **kw))  # type: ignore[arg-type]


def body(req: ChatRequest, *, stream: bool = False, **kw: object) -> dict[str, object]:
    http = make(**kw).build_request(req, "llama3.2", stream=stream)
    assert isinstance(http.json, dict)
    return http.json


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("localhost", "http://localhost:11434"),
        ("0.0.0.0", "http://0.0.0.0:11434"),
        ("gpu-box:8080", "http://gpu-box:8080"),
        ("http://gpu-box", "http://gpu-box:11434"),
        ("https://ollama.example.com", "https://ollama.example.com:443"),
        ("https://example.com/ollama/", "https://example.com:443/ollama"),
        ("[::1]:11434", "http://[::1]:11434"),
        ("  127.0.0.1:11434/  ", "http://127.0.0.1:11434"),
    ],
)
def test_normalize_host(value: str, expected: str) -> None:
    assert normalize_host(value) == expected


@pytest.mark.parametrize("bad", ["ftp://x", "host:port", ""])
def test_normalize_host_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        normalize_host(bad)


def test_host_resolution_order(monkeypatch: pytest.MonkeyPatch) -> None:
    assert make().base_url == "http://localhost:11434"
    monkeypatch.setenv("OLLAMA_HOST", "gpu-box")
    assert make().base_url == "http://gpu-box:11434"
    assert make(base_url="other:1234").base_url == "http://other:1234"  # settings win
    http = make().build_request(ChatRequest(messages=[Message.user("x")]), "m", stream=True)
    assert http.url == "http://gpu-box:11434/api/chat" and http.framing == "ndjson"
    monkeypatch.setenv("OLLAMA_HOST", "ftp://nope")
    with pytest.raises(ConfigError, match="OLLAMA_HOST"):
        _ = make().base_url


def test_minimal_body_always_says_stream() -> None:
    req = ChatRequest(messages=[Message.system("Be brief."), Message.user("Hi")])
    assert body(req) == {"model": "llama3.2", "stream": False, "messages": [
        {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]}
    assert body(req, stream=True)["stream"] is True


def test_sampling_params_become_options() -> None:
    params = GenerationParams(temperature=0.2, top_p=0.9, top_k=40, max_tokens=64, seed=7,
                              stop=["\n\n"], frequency_penalty=0.5, presence_penalty=0.1)
    out = body(ChatRequest(messages=[Message.user("x")], params=params))
    assert out["options"] == {"temperature": 0.2, "top_p": 0.9, "top_k": 40, "num_predict": 64,
                              "seed": 7, "stop": ["\n\n"], "frequency_penalty": 0.5,
                              "presence_penalty": 0.1}


def test_extra_splits_request_level_keys_from_options() -> None:
    params = GenerationParams(temperature=1.0, extra={
        "num_ctx": 8192, "repeat_penalty": 1.1, "keep_alive": "10m", "think": True,
        "options": {"min_p": 0.05}})
    out = body(ChatRequest(messages=[Message.user("x")], params=params),
               extra={"options": {"num_ctx": 4096, "mirostat": 0}, "keep_alive": "5m"})
    assert out["keep_alive"] == "10m" and out["think"] is True
    assert out["options"] == {"num_ctx": 8192, "mirostat": 0, "temperature": 1.0,
                              "repeat_penalty": 1.1, "min_p": 0.05}


def test_provider_defaults_apply_without_request_values() -> None:
    out = body(ChatRequest(messages=[Message.user("x")]),
               extra={"options": {"num_ctx": 4096}, "keep_alive": -1, "think": False})
    assert out["options"] == {"num_ctx": 4096}
    assert out["keep_alive"] == -1 and out["think"] is False


def test_response_formats() -> None:
    schema = {"type": "object", "properties": {"age": {"type": "integer"}}}
    js = body(ChatRequest(messages=[Message.user("x")],
                          response_format=ResponseFormat(type="json_object")))
    assert js["format"] == "json"
    sc = body(ChatRequest(messages=[Message.user("x")], response_format=ResponseFormat(
        type="json_schema", name="A", json_schema=schema)))
    assert sc["format"] == schema
    text = body(ChatRequest(messages=[Message.user("x")],
                            response_format=ResponseFormat(type="text")))
    assert "format" not in text


def test_images_are_base64_only() -> None:
    msg = Message(role="user", content=[
        TextPart(text="what is in "), TextPart(text="this image?"),
        ImagePart(data=PNG, media_type="image/png"),
        ImagePart(url=f"data:image/png;base64,{PNG}")])
    out = body(ChatRequest(messages=[msg]))
    assert out["messages"] == [{"role": "user", "content": "what is in this image?",
                                "images": [PNG, PNG]}]
    with pytest.raises(BadRequestError, match="base64 only"):
        body(ChatRequest(messages=[Message(role="user", content=[
            ImagePart(url="https://example.com/cat.png")])]))
    with pytest.raises(BadRequestError, match="base64"):
        body(ChatRequest(messages=[Message(role="user", content=[
            ImagePart(url="data:image/png,rawbytes")])]))


def test_tools_and_tool_history() -> None:
    req = ChatRequest(tools=[TOOL], messages=[
        Message.user("Weather in Paris and Rome?"),
        Message(role="assistant", content=[
            TextPart(text="Checking."),
            ToolCallPart(id="call_a", name="get_weather", arguments={"city": "Paris"}),
            ToolCallPart(id="call_b", name="get_weather", arguments={"city": "Rome"})]),
        Message(role="tool", content=[
            ToolResultPart(tool_call_id="call_a", content="21C"),
            ToolResultPart(tool_call_id="call_b", content="25C", name="explicit_name")]),
    ])
    out = body(req)
    assert out["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather", "parameters": TOOL.parameters}}]
    assert out["messages"][1] == {"role": "assistant", "content": "Checking.", "tool_calls": [
        {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
        {"function": {"name": "get_weather", "arguments": {"city": "Rome"}}}]}
    assert out["messages"][2:] == [
        {"role": "tool", "content": "21C", "tool_name": "get_weather"},
        {"role": "tool", "content": "25C", "tool_name": "explicit_name"}]


def test_tool_result_for_unknown_call_has_no_tool_name() -> None:
    out = body(ChatRequest(messages=[Message(role="tool", content=[
        ToolResultPart(tool_call_id="nope", content="ok")])]))
    assert out["messages"] == [{"role": "tool", "content": "ok"}]


def test_plain_text_tool_message_is_refused() -> None:
    with pytest.raises(BadRequestError, match="ToolResultPart"):
        body(ChatRequest(messages=[Message(role="tool", content=[TextPart(text="x")])]))


def test_tool_choice_emulation(caplog: pytest.LogCaptureFixture) -> None:
    other = ToolSpec(name="lookup")
    base = {"messages": [Message.user("x")], "tools": [TOOL, other]}
    assert "tools" not in body(ChatRequest(**base, tool_choice="none"))  # type: ignore[arg-type]
    named = body(ChatRequest(**base, tool_choice=NamedToolChoice(name="lookup")))  # type: ignore[arg-type]
    assert [t["function"]["name"] for t in named["tools"]] == ["lookup"]  # type: ignore[index]
    with caplog.at_level(logging.WARNING, logger="polyroute_ollama"):
        req = body(ChatRequest(**base, tool_choice="required"))  # type: ignore[arg-type]
    assert len(req["tools"]) == 2  # type: ignore[arg-type]
    assert "cannot be enforced" in caplog.text
    with pytest.raises(BadRequestError, match="missing"):
        body(ChatRequest(messages=[Message.user("x")], tools=[TOOL],
                         tool_choice=NamedToolChoice(name="missing")))


def test_key_is_optional_and_sent_as_bearer(monkeypatch: pytest.MonkeyPatch) -> None:
    req = ChatRequest(messages=[Message.user("x")])
    plain = make().build_request(req, "m", stream=False)
    assert "Authorization" not in plain.headers
    assert make().is_configured() is None
    monkeypatch.setenv("OLLAMA_API_KEY", "ollama-cloud-key-0123456789")
    keyed = make(headers={"x-trace": "1"}).build_request(req, "m", stream=False)
    assert keyed.headers["Authorization"] == "Bearer ollama-cloud-key-0123456789"
    assert keyed.headers["x-trace"] == "1"
