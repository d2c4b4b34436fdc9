"""Mistral chat completions: the official ``mistralai`` SDK (3.7.0) as the oracle.

Responses: the SDK client (``Mistral(server_url=...)``) is pointed at ``MistralResponder``
and parses every answer and stream event; each raw body is validated again, strictly,
as the SDK's ``ChatCompletionResponse`` / ``CompletionChunk``, with no undeclared field;
a 422 body as its ``HTTPValidationError`` data.
Requests: the bodies ``MistralProvider`` builds are validated as the SDK's
``ChatCompletionRequest`` / ``ChatCompletionStreamRequest`` models (no undeclared key),
and compared with what the SDK itself sends for the same call.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

mistralai = pytest.importorskip("mistralai.client")

from mistralai.client import Mistral, errors, models
from sdk_oracle import (
    Recording,
    scenarios,
    sent_differences,
    sse_data,
    strict_model,
    unknown_fields,
)

from polyroute.providers.base import HttpResponse, ProviderSettings
from polyroute.secrets import Secret
from polyroute.testing.standin import Fault, StandinServer
from polyroute_mistral import MistralProvider
from polyroute_mistral.standin import MistralResponder

MODEL = "mistral-large-latest"
KEY = "mistral-conformance-test-key-0000"
CASES = scenarios()


@pytest.fixture
def server() -> Iterator[StandinServer]:
    with StandinServer(Recording(MistralResponder())) as s:
        yield s


def _client(server: StandinServer) -> Mistral:
    return Mistral(api_key=KEY, server_url=server.url)


def _provider(server: StandinServer) -> MistralProvider:
    return MistralProvider(ProviderSettings(name="mistral", type="mistral", api_key=Secret(KEY),
                                            base_url=server.url + "/v1"))


def _rec(server: StandinServer) -> Recording:
    assert isinstance(server.responder, Recording)
    return server.responder


def _body(server: StandinServer, case: str, stream: bool) -> dict[str, Any]:
    return _provider(server).build_request(CASES[case], MODEL, stream=stream).json


def _kwargs(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "stream"}


# --- our responses are theirs -------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
def test_sdk_parses_our_answer(server: StandinServer, case: str) -> None:
    res = _client(server).chat.complete(**_kwargs(_body(server, case, False)))
    typed = strict_model(models.ChatCompletionResponse, _rec(server).last_body())
    assert res.model_dump() == typed.model_dump()
    assert typed.usage.prompt_tokens is not None and typed.usage.completion_tokens is not None
    if case == "tools":
        calls = typed.choices[0].message.tool_calls or []
        assert [c.function.name for c in calls] == ["get_weather"]
        assert typed.choices[0].finish_reason == "tool_calls"


@pytest.mark.parametrize("case", sorted(CASES))
def test_sdk_parses_our_stream(server: StandinServer, case: str) -> None:
    events = list(_client(server).chat.stream(**_kwargs(_body(server, case, True))))
    raw = sse_data(_rec(server).last)
    assert len(events) == len(raw) > 2
    for (_, data), event in zip(raw, events, strict=True):
        typed = strict_model(models.CompletionChunk, data)
        assert event.data.model_dump() == typed.model_dump()
    assert events[-1].data.usage is not None  # the last chunk carries usage


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500, 503])
def test_sdk_classifies_our_errors(server: StandinServer, status: int) -> None:
    server.push(Fault.status(status, message=f"boom {status}"))
    with pytest.raises(errors.MistralError) as info:
        _client(server).chat.complete(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == status
    raw = _rec(server).last_body()
    assert f"boom {status}" in info.value.body and json.loads(raw)
    reply = _rec(server).last
    assert _provider(server).parse_error(
        HttpResponse(status, reply.headers, raw), MODEL).status == status


def test_our_422_is_the_sdks_validation_error(server: StandinServer) -> None:
    """The stand-in answers an unknown body field (here ``seed``, which Mistral spells
    ``random_seed``) as the API's request validation does: the SDK's 422 type reads it.
    (The SDK itself cannot send an unknown field: its ``complete`` takes named arguments.)"""
    req = _provider(server).build_request(CASES["text"], MODEL, stream=False)
    resp = httpx.post(req.url, json={**req.json, "seed": 1}, headers=dict(req.headers))
    assert resp.status_code == 422
    data = strict_model(errors.HTTPValidationErrorData, resp.content)
    assert data.detail and data.detail[0].loc[-1] == "seed"


# --- our requests are theirs --------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("case", sorted(CASES))
def test_our_body_fits_the_sdk_request_model(server: StandinServer, case: str,
                                             stream: bool) -> None:
    body = _body(server, case, stream)
    cls = models.ChatCompletionStreamRequest if stream else models.ChatCompletionRequest
    typed = cls.model_validate(body)
    assert unknown_fields(typed, body) == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_sdk_sends_our_body(server: StandinServer, case: str) -> None:
    """The SDK re-serialises the call through its own models: what it puts on the wire
    for our arguments is our body (nothing renamed, dropped or defaulted in)."""
    ours = _provider(server).build_request(CASES[case], MODEL, stream=False)
    _client(server).chat.complete(**_kwargs(ours.json))
    sent = server.requests[-1]
    assert ours.url == server.url + sent.path
    # the SDK also serialises its models' defaults: ``stream: false``, an assistant
    # turn's ``prefix: false``, a tool call's ``index``
    assert sent_differences(json.loads(sent.body), ours.json,
                            sdk_defaults=frozenset({"stream", "prefix", "index"})) == []
    mine = {k.lower(): v for k, v in ours.headers.items()}
    assert mine["authorization"] == sent.headers["authorization"]


def test_our_in_band_stream_error_is_not_a_chunk_to_the_sdk(server: StandinServer) -> None:
    """Mistral's mid-stream error is an error object (the shape of its error bodies), not
    a ``CompletionChunk``: the SDK refuses it as a chunk (``ResponseValidationError``), so
    a client never takes it for content; our parser classifies it (plugin tests)."""
    server.push(Fault.in_band_error(after_chunks=2, message="overloaded"))
    with pytest.raises(errors.ResponseValidationError, match="'object': 'error'"):
        list(_client(server).chat.stream(model=MODEL,
                                         messages=[{"role": "user", "content": "hi"}]))
