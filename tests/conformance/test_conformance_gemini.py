"""Gemini API ``generateContent``: the official ``google-genai`` SDK (3.6.1) as the oracle.

Responses: ``genai.Client`` (``http_options.base_url``) is pointed at ``GeminiResponder``
and parses every answer, ``alt=sse`` stream event and error; each raw body is validated
again, strictly, as the SDK's ``GenerateContentResponse`` (its models forbid undeclared
fields) and each error as ``google.genai.errors.APIError``.
Requests: every part of the body ``GeminiProvider`` builds is read by the SDK's own
types (``Content``, ``Tool``, ``ToolConfig``, ``GenerateContentConfig``: camelCase wire
names, ``extra='forbid'``); the SDK then sends that call, and its wire body must be ours.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

genai = pytest.importorskip("google.genai")

from google.genai import errors, types
from sdk_oracle import Recording, scenarios, sent_differences, sse_data, strict_model

from polyroute.providers.base import HttpResponse, ProviderSettings
from polyroute.secrets import Secret
from polyroute.testing.standin import Fault, StandinServer
from polyroute_gemini import GeminiProvider
from polyroute_gemini.standin import GeminiResponder

MODEL = "gemini-2.5-flash"
KEY = "AIza-conformance-test-key-000000000000"
CASES = scenarios()


@pytest.fixture
def server() -> Iterator[StandinServer]:
    with StandinServer(Recording(GeminiResponder())) as s:
        yield s


def _client(server: StandinServer) -> Any:
    return genai.Client(api_key=KEY, http_options=types.HttpOptions(
        base_url=server.url, api_version="v1beta",
        retry_options=types.HttpRetryOptions(attempts=1)))


@pytest.fixture
def client(server: StandinServer) -> Any:
    # held for the whole test: the SDK closes its HTTP client when the Client is collected
    return _client(server)


def _provider(server: StandinServer) -> GeminiProvider:
    return GeminiProvider(ProviderSettings(name="gemini", type="gemini", api_key=Secret(KEY),
                                           base_url=server.url))


def _rec(server: StandinServer) -> Recording:
    assert isinstance(server.responder, Recording)
    return server.responder


def _sdk_call(body: dict[str, Any]) -> dict[str, Any]:
    """Our wire body read back into the SDK's types: each must accept its part."""
    config: dict[str, Any] = dict(body.get("generationConfig") or {})
    for key in ("systemInstruction", "tools", "toolConfig", "safetySettings"):
        if key in body:
            config[key] = body[key]
    unknown = set(body) - {"contents", "generationConfig", "systemInstruction", "tools",
                           "toolConfig", "safetySettings"}
    assert not unknown, f"body keys outside the SDK's GenerateContentParameters: {unknown}"
    return {"contents": [types.Content.model_validate(c) for c in body["contents"]],
            "config": types.GenerateContentConfig.model_validate(config)}


# Field names the SDK sends in their proto spelling; proto3 JSON parsers take either
# (https://protobuf.dev/programming-guides/json/), the API reference shows lowerCamel.
_PROTO_NAMES = {"mime_type": "mimeType", "property_ordering": "propertyOrdering"}


def _lower_types(node: Any) -> Any:
    if isinstance(node, dict):
        return {_PROTO_NAMES.get(k, k): (v.lower() if k == "type" and isinstance(v, str)
                                         else _lower_types(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_lower_types(v) for v in node]
    return node


def _body(server: StandinServer, case: str, stream: bool) -> dict[str, Any]:
    return _provider(server).build_request(CASES[case], MODEL, stream=stream).json


# --- our responses are theirs -------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
def test_sdk_parses_our_answer(server: StandinServer, client: Any, case: str) -> None:
    res = client.models.generate_content(model=MODEL,
                                                  **_sdk_call(_body(server, case, False)))
    typed = strict_model(types.GenerateContentResponse, _rec(server).last_body())
    assert res.candidates == typed.candidates
    assert res.usage_metadata == typed.usage_metadata
    assert typed.usage_metadata is not None and typed.usage_metadata.prompt_token_count
    if case == "tools":
        assert [c.name for c in res.function_calls or []] == ["get_weather"]
    if case == "json_schema":
        assert set(json.loads(res.text or "")) == {"name", "age"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sdk_parses_our_stream(server: StandinServer, client: Any, case: str) -> None:
    chunks = list(client.models.generate_content_stream(
        model=MODEL, **_sdk_call(_body(server, case, True))))
    raw = sse_data(_rec(server).last)
    assert len(chunks) == len(raw) >= 1
    for (_, data), chunk in zip(raw, chunks, strict=True):
        typed = strict_model(types.GenerateContentResponse, data)
        assert chunk.candidates == typed.candidates
    assert chunks[-1].candidates and chunks[-1].candidates[0].finish_reason is not None
    assert chunks[-1].usage_metadata is not None


@pytest.mark.parametrize("status", [400, 403, 404, 429, 500, 503])
def test_sdk_classifies_our_errors(server: StandinServer, client: Any, status: int) -> None:
    server.push(Fault.status(status, message=f"boom {status}"))
    with pytest.raises(errors.APIError) as info:
        client.models.generate_content(model=MODEL, contents="hi")
    raw = _rec(server).last_body()
    err = json.loads(raw)["error"]
    assert (info.value.code, info.value.message, info.value.status) == (
        status, f"boom {status}", err["status"])
    assert set(err) <= {"code", "message", "status", "details"}  # google.rpc.Status
    reply = _rec(server).last
    assert _provider(server).parse_error(
        HttpResponse(status, reply.headers, raw), MODEL).status == status


def test_sdk_raises_our_in_band_stream_error(server: StandinServer, client: Any) -> None:
    server.push(Fault.in_band_error(after_chunks=1, message="overloaded"))
    with pytest.raises(errors.APIError, match="overloaded"):
        list(client.models.generate_content_stream(model=MODEL, contents="hi there"))


# --- our requests are theirs --------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("case", sorted(CASES))
def test_the_sdk_sends_our_body(server: StandinServer, client: Any, case: str,
                                stream: bool) -> None:
    ours = _provider(server).build_request(CASES[case], MODEL, stream=stream)
    call = _sdk_call(ours.json)
    if stream:
        list(client.models.generate_content_stream(model=MODEL, **call))
    else:
        client.models.generate_content(model=MODEL, **call)
    sent = server.requests[-1]
    assert ours.url == server.url + sent.path
    # The SDK rewrites a Schema's ``type`` into the Type enum's upper case and adds its
    # ``propertyOrdering``; we send the lower case the API reference's REST examples use
    # (https://ai.google.dev/gemini-api/docs/function-calling, cassettes/gemini_wire/).
    # An empty ``generationConfig: {}`` is the SDK's; the API reads it as absent.
    theirs = _lower_types(json.loads(sent.body))
    if theirs.get("generationConfig") == {} and "generationConfig" not in ours.json:
        del theirs["generationConfig"]
    assert sent_differences(theirs, ours.json,
                            sdk_defaults=frozenset({"propertyOrdering"})) == []
    mine = {k.lower(): v for k, v in ours.headers.items()}
    assert mine["x-goog-api-key"] == sent.headers["x-goog-api-key"]


def test_the_sdk_types_refuse_a_misspelt_field() -> None:
    with pytest.raises(ValueError, match="extra"):
        types.Content.model_validate({"role": "user", "parts": [{"txt": "hi"}]})
