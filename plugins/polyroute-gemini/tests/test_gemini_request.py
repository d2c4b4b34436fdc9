"""ChatRequest → generateContent request: URL, headers and body, as bytes-free dicts.

Field names from https://ai.google.dev/api/generate-content#request-body and
https://ai.google.dev/gemini-api/docs/function-calling.
"""

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
from polyroute_gemini import GeminiProvider
from polyroute_gemini.schema import to_gemini_schema

WEATHER = ToolSpec(
    name="get_current_temperature",
    description="Gets the current temperature for a given location.",
    parameters={"type": "object",
                "properties": {"location": {"type": "string",
                                            "description": "The city name, e.g. San Francisco"}},
                "required": ["location"]},
)


def body_of(provider: GeminiProvider, request: ChatRequest, **kw: Any) -> dict[str, Any]:
    http = provider.build_request(request, "gemini-2.5-flash", stream=False, **kw)
    assert isinstance(http.json, dict)
    return http.json


def test_url_headers_and_minimal_body(provider: GeminiProvider) -> None:
    http = provider.build_request(ChatRequest(messages=[Message.user("Hi")]),
                                  "gemini-2.5-flash", stream=False)
    assert http.method == "POST"
    assert http.url == ("https://generativelanguage.googleapis.com/v1beta/models/"
                        "gemini-2.5-flash:generateContent")
    assert http.headers["x-goog-api-key"].startswith("AIzaSy-TESTKEY")
    assert "key=" not in http.url  # the key never goes in the URL
    assert http.framing is None
    assert http.json == {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}


def test_stream_url_uses_alt_sse(provider: GeminiProvider) -> None:
    http = provider.build_request(ChatRequest(messages=[Message.user("Hi")]),
                                  "models/gemini-2.0-flash", stream=True)
    assert http.url.endswith("/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse")
    assert http.framing == "sse"
    assert "stream" not in http.json  # streaming is the method, not a body field


def test_system_roles_and_merging(provider: GeminiProvider) -> None:
    body = body_of(provider, ChatRequest(messages=[
        Message.system("Be brief."), Message.user("a"), Message.user("b"),
        Message.assistant("c"), Message.system("Answer in French."), Message.user("d"),
    ]))
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief.\n\nAnswer in French."}]}
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
        {"role": "model", "parts": [{"text": "c"}]},
        {"role": "user", "parts": [{"text": "d"}]},
    ]


def test_generation_config(provider: GeminiProvider) -> None:
    params = GenerationParams(temperature=0.2, top_p=0.9, top_k=40, max_tokens=100,
                              stop=["END"], seed=7, presence_penalty=0.5,
                              frequency_penalty=0.25,
                              extra={"thinkingConfig": {"thinkingBudget": 0},
                                     "cachedContent": "cachedContents/abc"})
    body = body_of(provider, ChatRequest(messages=[Message.user("x")], params=params))
    assert body["generationConfig"] == {
        "temperature": 0.2, "topP": 0.9, "topK": 40, "maxOutputTokens": 100,
        "stopSequences": ["END"], "seed": 7, "presencePenalty": 0.5,
        "frequencyPenalty": 0.25, "thinkingConfig": {"thinkingBudget": 0},
    }
    assert body["cachedContent"] == "cachedContents/abc"  # a top-level field


def test_tools_and_tool_config(provider: GeminiProvider) -> None:
    noargs = ToolSpec(name="now", description="Current time")
    body = body_of(provider, ChatRequest(messages=[Message.user("x")], tools=[WEATHER, noargs],
                                         tool_choice="required", parallel_tool_calls=False))
    assert body["tools"] == [{"functionDeclarations": [
        {"name": "get_current_temperature",
         "description": "Gets the current temperature for a given location.",
         "parameters": {"type": "object", "properties": {"location": {
             "type": "string", "description": "The city name, e.g. San Francisco"}},
             "required": ["location"]}},
        {"name": "now", "description": "Current time"},  # no empty OBJECT parameters
    ]}]
    assert body["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}


@pytest.mark.parametrize(("choice", "config"), [
    ("auto", {"mode": "AUTO"}),
    ("none", {"mode": "NONE"}),
    (NamedToolChoice(name="get_current_temperature"),
     {"mode": "ANY", "allowedFunctionNames": ["get_current_temperature"]}),
])
def test_tool_choice_modes(provider: GeminiProvider, choice: Any, config: dict[str, Any]) -> None:
    body = body_of(provider, ChatRequest(messages=[Message.user("x")], tools=[WEATHER],
                                         tool_choice=choice))
    assert body["toolConfig"] == {"functionCallingConfig": config}


def test_function_call_round_trip(provider: GeminiProvider) -> None:
    request = ChatRequest(tools=[WEATHER], messages=[
        Message.user("Temperature in London and Paris?"),
        Message(role="assistant", content=[
            ToolCallPart(id="gemini-call-0123456789abcdef", name="get_current_temperature",
                         arguments={"location": "London"}),
            ToolCallPart(id="fc-42", name="get_current_temperature",
                         arguments={"location": "Paris"}),
        ]),
        Message(role="tool", content=[ToolResultPart(tool_call_id="gemini-call-0123456789abcdef",
                                                     content='{"temperature": 15}')]),
        Message(role="tool", content=[ToolResultPart(tool_call_id="fc-42", content="oops",
                                                     is_error=True)]),
    ])
    contents = body_of(provider, request)["contents"]
    # unsigned history (not Gemini's own): the first call gets Google's placeholder
    assert contents[1] == {"role": "model", "parts": [
        {"functionCall": {"name": "get_current_temperature", "args": {"location": "London"}},
         "thoughtSignature": "skip_thought_signature_validator"},
        {"functionCall": {"name": "get_current_temperature", "args": {"location": "Paris"},
                          "id": "fc-42"}},
    ]}
    # both responses in one user turn; names looked up from the calls; synthetic ids not sent
    assert contents[2] == {"role": "user", "parts": [
        {"functionResponse": {"name": "get_current_temperature",
                              "response": {"temperature": 15}}},
        {"functionResponse": {"name": "get_current_temperature",
                              "response": {"error": "oops"}, "id": "fc-42"}},
    ]}


def test_tool_result_plain_text_and_unknown_name(provider: GeminiProvider) -> None:
    ok = ChatRequest(messages=[Message(role="tool", content=[
        ToolResultPart(tool_call_id="x", name="lookup", content="sunny")])])
    assert body_of(provider, ok)["contents"][0]["parts"][0] == {
        "functionResponse": {"name": "lookup", "response": {"output": "sunny"}, "id": "x"}}
    orphan = ChatRequest(messages=[Message(role="tool", content=[
        ToolResultPart(tool_call_id="x", content="sunny")])])
    with pytest.raises(BadRequestError, match="function name"):
        body_of(provider, orphan)


def test_images(provider: GeminiProvider) -> None:
    msg = Message(role="user", content=[
        TextPart(text="What is this?"),
        ImagePart(data="iVBORw0KGgo="),
        ImagePart(url="data:image/jpeg;base64,/9j/4AAQ"),
        ImagePart(url="https://example.com/cat.webp"),
    ])
    parts = body_of(provider, ChatRequest(messages=[msg]))["contents"][0]["parts"]
    assert parts == [
        {"text": "What is this?"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}},
        {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/cat.webp"}},
    ]
    with pytest.raises(BadRequestError, match="media_type"):
        body_of(provider, ChatRequest(messages=[Message(role="user", content=[
            ImagePart(url="https://example.com/image")])]))


def test_json_mode_and_schema(provider: GeminiProvider) -> None:
    body = body_of(provider, ChatRequest(messages=[Message.user("x")],
                                         response_format=ResponseFormat(type="json_object")))
    assert body["generationConfig"] == {"responseMimeType": "application/json"}
    schema = {"type": "object", "additionalProperties": False,
              "properties": {"name": {"type": "string"}, "age": {"type": ["integer", "null"]}},
              "required": ["name", "age"]}
    fmt = ResponseFormat(type="json_schema", name="person", json_schema=schema)
    gen = body_of(provider, ChatRequest(messages=[Message.user("x")],
                                        response_format=fmt))["generationConfig"]
    assert gen == {"responseMimeType": "application/json", "responseSchema": {
        "type": "object", "properties": {"name": {"type": "string"},
                                         "age": {"type": "integer", "nullable": True}},
        "required": ["name", "age"]}}
    verbatim = GeminiProvider(ProviderSettings(name="g", type="gemini", api_key="k",
                                               extra={"schema_field": "responseJsonSchema"}))
    gen = body_of(verbatim, ChatRequest(messages=[Message.user("x")],
                                        response_format=fmt))["generationConfig"]
    assert gen["responseJsonSchema"] == schema


def test_safety_settings_from_extra() -> None:
    settings = [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
    p = GeminiProvider(ProviderSettings(name="g", type="gemini", api_key="k",
                                        extra={"safety_settings": settings}))
    assert body_of(p, ChatRequest(messages=[Message.user("x")]))["safetySettings"] == settings


def test_schema_conversion() -> None:
    schema = {
        "$defs": {"Pet": {"type": "object", "title": "Pet",
                          "properties": {"kind": {"const": "cat"},
                                         "born": {"type": "string", "format": "date"}}}},
        "type": "object",
        "properties": {
            "pet": {"$ref": "#/$defs/Pet"},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
            "nick": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "n": {"type": "integer", "format": "int64", "exclusiveMinimum": 0},
            "mode": {"enum": ["a", "b"]},
            "flags": {"enum": [1, 2]},
        },
        "required": ["pet", "ghost"],
    }
    assert to_gemini_schema(schema) == {
        "type": "object",
        "properties": {
            "pet": {"type": "object", "title": "Pet", "properties": {
                "kind": {"type": "string", "enum": ["cat"]},
                "born": {"type": "string"}}},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
            "nick": {"type": "string", "default": None, "nullable": True},
            "n": {"type": "integer", "format": "int64"},
            "mode": {"enum": ["a", "b"]},
            "flags": {"type": "integer"},
        },
        "required": ["pet"],
    }


def test_tool_message_needs_result_parts(provider: GeminiProvider) -> None:
    with pytest.raises(BadRequestError, match="ToolResultPart"):
        body_of(provider, ChatRequest(messages=[Message(role="tool", content="42")]))


def test_thought_signatures_go_back_as_received(provider: GeminiProvider) -> None:
    request = ChatRequest(tools=[WEATHER], messages=[
        Message.user("Temperature in London and Paris?"),
        Message(role="assistant", content=[
            ToolCallPart(id="gemini-call-0123456789abcdef", name="get_current_temperature",
                         arguments={"location": "London"}, signature="gemini:CiIBVKhc7xJu"),
            ToolCallPart(id="gemini-call-fedcba9876543210", name="get_current_temperature",
                         arguments={"location": "Paris"}, signature="anthropic-thinking:[]"),
        ]),
        Message(role="tool", content=[
            ToolResultPart(tool_call_id="gemini-call-0123456789abcdef", content="15"),
            ToolResultPart(tool_call_id="gemini-call-fedcba9876543210", content="17"),
        ]),
    ])
    parts = body_of(provider, request)["contents"][1]["parts"]
    # parallel calls: only the first is signed, and no placeholder is added beside it;
    # another family's signature is never sent to Gemini
    assert [p.get("thoughtSignature") for p in parts] == ["CiIBVKhc7xJu", None]
