"""Meta Llama API: the official ``llama-api-client`` (0.6.0) as the oracle for the
polyroute-llama plugin and its stand-in.

Responses: ``LlamaAPIClient`` is pointed at ``LlamaResponder`` and parses every answer,
stream event and error; each raw body is validated again, strictly, as the SDK's
``CreateChatCompletionResponse`` / ``CreateChatCompletionResponseStreamChunk``, with no
undeclared field.
Requests: the bodies ``LlamaProvider`` builds are checked against the SDK's
``CompletionCreateParams*`` TypedDicts, and the SDK sends them verbatim to the same path
with the same bearer header.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

llama_api_client = pytest.importorskip("llama_api_client")

from llama_api_client.types import (
    CreateChatCompletionResponse,
    CreateChatCompletionResponseStreamChunk,
    LlamaModel,
)
from llama_api_client.types.chat.completion_create_params import (
    CompletionCreateParamsNonStreaming,
    CompletionCreateParamsStreaming,
)
from sdk_oracle import Recording, scenarios, sse_data, strict_model, typed_dict_problems

from polyroute.providers.base import HttpResponse, ProviderSettings
from polyroute.secrets import Secret
from polyroute.testing.standin import Fault, StandinServer
from polyroute_llama import LlamaProvider
from polyroute_llama.standin import LlamaResponder

MODEL = "Llama-4-Maverick-17B-128E-Instruct-FP8"
KEY = "LLM|conformance-test-key-0000"
CASES = scenarios()


@pytest.fixture
def server() -> Iterator[StandinServer]:
    with StandinServer(Recording(LlamaResponder())) as s:
        yield s


def _client(server: StandinServer) -> Any:
    return llama_api_client.LlamaAPIClient(api_key=KEY, base_url=server.url + "/v1",
                                           max_retries=0)


def _provider(server: StandinServer) -> LlamaProvider:
    return LlamaProvider(ProviderSettings(name="meta", type="llama", api_key=Secret(KEY),
                                          base_url=server.url + "/v1"))


def _rec(server: StandinServer) -> Recording:
    assert isinstance(server.responder, Recording)
    return server.responder


def _body(server: StandinServer, case: str, stream: bool) -> dict[str, Any]:
    return _provider(server).build_request(CASES[case], MODEL, stream=stream).json


# --- our responses are theirs -------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
def test_sdk_parses_our_answer(server: StandinServer, case: str) -> None:
    res = _client(server).chat.completions.create(**_body(server, case, False))
    typed = strict_model(CreateChatCompletionResponse, _rec(server).last_body())
    assert res.model_dump() == typed.model_dump()
    names = {m.metric for m in typed.metrics or []}
    assert {"num_prompt_tokens", "num_completion_tokens", "num_total_tokens"} <= names
    ours = _provider(server).parse_response(
        HttpResponse(200, _rec(server).last.headers, _rec(server).last_body()), MODEL)
    assert ours.usage.input_tokens > 0 and ours.usage.output_tokens > 0
    if case == "tools":
        calls = typed.completion_message.tool_calls or []
        assert [c.function.name for c in calls] == ["get_weather"]
        assert typed.completion_message.stop_reason == "tool_calls"
        assert ours.message.tool_calls[0].arguments["city"] == "Paris"
    if case == "json_schema":
        assert set(json.loads(ours.message.text)) == {"name", "age"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sdk_parses_our_stream(server: StandinServer, case: str) -> None:
    chunks = list(_client(server).chat.completions.create(**_body(server, case, True)))
    raw = sse_data(_rec(server).last)
    assert len(chunks) == len(raw) > 3
    for (_, data), chunk in zip(raw, chunks, strict=True):
        typed = strict_model(CreateChatCompletionResponseStreamChunk, data)
        assert chunk.model_dump() == typed.model_dump()
    kinds = [c.event.event_type for c in chunks]
    assert kinds[0] == "start" and kinds[-2:] == ["complete", "metrics"]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422, 429, 500, 503])
def test_sdk_classifies_our_errors(server: StandinServer, status: int) -> None:
    server.push(Fault.status(status, message=f"boom {status}"))
    with pytest.raises(llama_api_client.APIStatusError) as info:
        _client(server).chat.completions.create(model=MODEL,
                                                messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == status
    assert info.value.body == {"detail": f"boom {status}"}
    reply = _rec(server).last
    ours = _provider(server).parse_error(HttpResponse(status, reply.headers, reply.body or b""),
                                         MODEL)
    assert ours.status == status and f"boom {status}" in str(ours)


def test_sdk_raises_our_in_band_stream_error(server: StandinServer) -> None:
    server.push(Fault.in_band_error(after_chunks=2, message="model overloaded"))
    with pytest.raises(llama_api_client.APIError, match="model overloaded"):
        list(_client(server).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True))


def test_sdk_lists_our_models(server: StandinServer) -> None:
    models = _client(server).models.list()
    for item in json.loads(_rec(server).last_body())["data"]:
        strict_model(LlamaModel, item)
    ours = _provider(server).parse_models(HttpResponse(200, {}, _rec(server).last_body()))
    assert ours == [m.id for m in models]


# --- our requests are theirs --------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("case", sorted(CASES))
def test_our_body_fits_the_sdk_request_type(server: StandinServer, case: str,
                                            stream: bool) -> None:
    schema = CompletionCreateParamsStreaming if stream else CompletionCreateParamsNonStreaming
    assert typed_dict_problems(schema, _body(server, case, stream)) == []


def test_our_url_and_auth_header_are_the_sdks(server: StandinServer) -> None:
    ours = _provider(server).build_request(CASES["text"], MODEL, stream=False)
    _client(server).chat.completions.create(**ours.json)
    sent = server.requests[-1]
    assert ours.url == server.url + sent.path
    assert {k.lower(): v for k, v in ours.headers.items()}["authorization"] == (
        sent.headers["authorization"])
    assert json.loads(sent.body) == ours.json


def test_the_type_check_fails_on_an_openai_only_field() -> None:
    bad = {"model": MODEL, "messages": [{"role": "user", "content": "x"}], "stop": ["\n"],
           "response_format": {"type": "json_object"}}
    problems = typed_dict_problems(CompletionCreateParamsNonStreaming, bad)
    assert any(p.startswith("$.stop") for p in problems)
    assert any("response_format" in p for p in problems)
