"""OpenAI Chat Completions: the official ``openai`` SDK (3.60.0) as the oracle.

Responses: the SDK client is pointed at ``OpenAIResponder`` and parses every answer,
stream chunk and error; each raw body is validated again, strictly, as the SDK's
``ChatCompletion`` / ``ChatCompletionChunk`` / ``ErrorObject`` with no undeclared field.
Requests: the bodies ``OpenAIProvider`` builds are checked against the SDK's request
TypedDicts (``CompletionCreateParamsNonStreaming`` / ``...Streaming``, generated from
OpenAI's OpenAPI spec), and their path and auth header against what the SDK sends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

openai = pytest.importorskip("openai")

from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat.completion_create_params import (
    CompletionCreateParamsNonStreaming,
    CompletionCreateParamsStreaming,
)
from openai.types.shared import ErrorObject
from sdk_oracle import Recording, scenarios, sse_data, strict_model, typed_dict_problems

from polyroute.providers.base import HttpResponse, ProviderSettings
from polyroute.secrets import Secret
from polyroute.testing.standin import Fault, StandinServer
from polyroute_openai import OpenAIProvider
from polyroute_openai.standin import OpenAIResponder

MODEL = "gpt-4.1"
KEY = "sk-conformance-test-key-0000"
CASES = scenarios()


@pytest.fixture
def server() -> Iterator[StandinServer]:
    with StandinServer(Recording(OpenAIResponder())) as s:
        yield s


def _client(server: StandinServer) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0)


def _provider(server: StandinServer) -> OpenAIProvider:
    return OpenAIProvider(ProviderSettings(name="openai", type="openai", api_key=Secret(KEY),
                                           base_url=server.url + "/v1"))


def _rec(server: StandinServer) -> Recording:
    assert isinstance(server.responder, Recording)
    return server.responder


# --- our responses are theirs -------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
def test_sdk_parses_our_answer(server: StandinServer, case: str) -> None:
    body = _provider(server).build_request(CASES[case], MODEL, stream=False).json
    completion = _client(server).chat.completions.create(**body)
    raw = _rec(server).last_body()
    typed = strict_model(ChatCompletion, raw)
    assert completion.model_dump() == typed.model_dump()
    usage = typed.usage
    assert usage is not None and usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens is not None
    assert usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens is not None
    if case == "tools":
        calls = typed.choices[0].message.tool_calls or []
        assert [c.function.name for c in calls] == ["get_weather"]  # type: ignore[union-attr]
        assert typed.choices[0].finish_reason == "tool_calls"
    if case == "json_schema":
        assert set(json.loads(typed.choices[0].message.content or "")) == {"name", "age"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sdk_parses_our_stream(server: StandinServer, case: str) -> None:
    body = _provider(server).build_request(CASES[case], MODEL, stream=True).json
    chunks = list(_client(server).chat.completions.create(**body))
    events = sse_data(_rec(server).last)
    assert len(chunks) == len(events) > 2
    typed = [strict_model(ChatCompletionChunk, data) for _, data in events]
    assert [c.model_dump() for c in chunks] == [t.model_dump() for t in typed]
    assert typed[-1].usage is not None and typed[-1].choices == []  # include_usage chunk
    # the SDK's own accumulator reassembles the stream into a ChatCompletion
    with _client(server).chat.completions.stream(**{k: v for k, v in body.items()
                                                    if k != "stream"}) as stream:
        final = stream.get_final_completion()
    assert final.choices[0].finish_reason in {"stop", "tool_calls", "length"}


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500, 503])
def test_sdk_classifies_our_errors(server: StandinServer, status: int) -> None:
    server.push(Fault.status(status, message=f"boom {status}"))
    with pytest.raises(openai.APIStatusError) as info:
        _client(server).chat.completions.create(model=MODEL, messages=[{"role": "user",
                                                                         "content": "hi"}])
    assert info.value.status_code == status
    assert info.value.body == {"message": f"boom {status}", **info.value.body}  # type: ignore[dict-item]
    raw = json.loads(_rec(server).last_body())
    strict_model(ErrorObject, raw["error"])
    assert set(raw) == {"error"}
    # and our parser reads the same bytes as the same class of error the SDK raised
    reply = _rec(server).last
    ours = _provider(server).parse_error(
        HttpResponse(status, reply.headers, reply.body or b""), MODEL)
    assert ours.status == status


def test_sdk_parses_our_in_band_stream_error(server: StandinServer) -> None:
    server.push(Fault.in_band_error(after_chunks=2, message="overloaded"))
    with pytest.raises(openai.APIError, match="overloaded"):
        list(_client(server).chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True))


# --- our requests are theirs --------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("case", sorted(CASES))
def test_our_body_fits_the_sdk_request_type(server: StandinServer, case: str,
                                            stream: bool) -> None:
    body = _provider(server).build_request(CASES[case], MODEL, stream=stream).json
    schema = CompletionCreateParamsStreaming if stream else CompletionCreateParamsNonStreaming
    assert typed_dict_problems(schema, body) == []


def test_our_url_and_auth_header_are_the_sdks(server: StandinServer) -> None:
    ours = _provider(server).build_request(CASES["text"], MODEL, stream=False)
    _client(server).chat.completions.create(**ours.json)
    sent = server.requests[-1]
    assert ours.url == server.url + sent.path
    assert {k.lower(): v for k, v in ours.headers.items()}["authorization"] == (
        sent.headers["authorization"])
    assert json.loads(sent.body) == ours.json  # the SDK sends the body verbatim


def test_type_checker_catches_a_misspelt_field() -> None:
    """The oracle can fail: a wrong key, a bad enum and a missing required field."""
    bad = {"model": MODEL, "messages": [{"role": "robot", "content": "x"}], "max_token": 3}
    problems = typed_dict_problems(CompletionCreateParamsNonStreaming, bad)
    assert any("max_token" in p for p in problems)
    assert typed_dict_problems(CompletionCreateParamsNonStreaming, {"model": MODEL}) == [
        "$.messages: required by CompletionCreateParamsNonStreaming, missing"]
    with pytest.raises(AssertionError, match="does not declare"):
        strict_model(ErrorObject, {"message": "m", "type": "t", "param": None, "code": None,
                                   "surprise": 1})


# --- the OpenAI-compatible templates ------------------------------------------------------

def test_azure_openai_url_headers_and_version_are_the_sdks(server: StandinServer) -> None:
    """``AzureOpenAIProvider`` against the SDK's own ``AzureOpenAI`` client: deployment
    path, ``api-version`` query and ``api-key`` header as the SDK sends them."""
    from polyroute_openai import AzureOpenAIProvider

    ours = AzureOpenAIProvider(ProviderSettings(
        name="az", type="azure_openai", api_key=Secret(KEY), base_url=server.url,
        api_version="2024-10-21")).build_request(CASES["text"], "my-deployment", stream=False)
    client = openai.AzureOpenAI(azure_endpoint=server.url, api_key=KEY,
                                api_version="2024-10-21", max_retries=0)
    client.chat.completions.create(**{**ours.json, "model": "my-deployment"})
    sent = server.requests[-1]
    assert ours.url == server.url + sent.path
    assert {k.lower(): v for k, v in ours.headers.items()}["api-key"] == sent.headers["api-key"]
    assert json.loads(sent.body) == ours.json


@pytest.mark.parametrize("template", ["groq", "openrouter", "vllm", "localai", "together",
                                      "deepseek"])
def test_template_bodies_fit_the_sdk_request_type(template: str) -> None:
    """Every template's body fits OpenAI's request type, except the one documented server
    extension (``top_k``, sent only where the template says the server takes it)."""
    from polyroute_openai.templates import templates

    t = next(t for t in templates() if t.name == template)
    provider = OpenAIProvider(ProviderSettings(name=template, type="openai", api_key=Secret(KEY),
                                               base_url=t.base_url, extra=t.extra))
    req = CASES["text"].model_copy(update={"params": CASES["text"].params.model_copy(
        update={"top_k": 40})})
    body = provider.build_request(req, "some-model", stream=True).json
    gap = ["$.top_k: unknown to CompletionCreateParamsStreaming"] if "top_k" in body else []
    assert typed_dict_problems(CompletionCreateParamsStreaming, body) == gap
    assert ("top_k" in body) is bool(t.extra.get("accepts_top_k"))
