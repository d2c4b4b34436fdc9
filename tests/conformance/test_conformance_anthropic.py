"""Anthropic Messages: the official ``anthropic`` SDK (2.16.0) as the oracle.

Responses: the SDK client is pointed at ``AnthropicResponder`` and parses every answer,
stream event and error; each raw body is validated again, strictly, as the SDK's
``Message`` / ``RawMessageStreamEvent`` / ``ErrorResponse``, with no undeclared field.
Requests: the bodies ``AnthropicProvider`` builds are checked against the SDK's
``MessageCreateParams*`` TypedDicts, and the path, ``x-api-key`` and
``anthropic-version`` headers against what the SDK sends.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

anthropic = pytest.importorskip("anthropic")

from anthropic.types import Message, RawMessageStreamEvent
from anthropic.types.message_create_params import (
    MessageCreateParamsNonStreaming,
    MessageCreateParamsStreaming,
)
from anthropic.types.shared import ErrorResponse
from sdk_oracle import Recording, scenarios, sse_data, strict_model, typed_dict_problems

from polyroute.providers.base import HttpResponse, ProviderSettings
from polyroute.secrets import Secret
from polyroute.testing.standin import Fault, StandinServer
from polyroute_anthropic import AnthropicProvider
from polyroute_anthropic.standin import AnthropicResponder

MODEL = "claude-sonnet-4-5"
KEY = "sk-ant-conformance-test-key-0000"
CASES = scenarios()
THINKING = {"thinking": {"type": "enabled", "budget_tokens": 1024}}


@pytest.fixture
def server() -> Iterator[StandinServer]:
    with StandinServer(Recording(AnthropicResponder())) as s:
        yield s


def _client(server: StandinServer) -> Any:
    # an explicit timeout: the SDK refuses a non-streamed call whose max_tokens (ours: the
    # model's maximum output) might take over 10 minutes unless the caller set one
    return anthropic.Anthropic(base_url=server.url, api_key=KEY, max_retries=0, timeout=60.0)


def _provider(server: StandinServer) -> AnthropicProvider:
    return AnthropicProvider(ProviderSettings(name="anthropic", type="anthropic",
                                              api_key=Secret(KEY), base_url=server.url))


def _rec(server: StandinServer) -> Recording:
    assert isinstance(server.responder, Recording)
    return server.responder


def _body(server: StandinServer, case: str, stream: bool) -> dict[str, Any]:
    if case == "thinking":
        body = _provider(server).build_request(CASES["tools"], MODEL, stream=stream).json
        body.update(THINKING, max_tokens=2048)
        body.pop("tool_choice", None)  # a forced tool is refused with thinking on
        return body
    return _provider(server).build_request(CASES[case], MODEL, stream=stream).json


ALL = [*sorted(CASES), "thinking"]
# Sampling controls the API reference documents (https://docs.claude.com/en/api/messages)
# but anthropic 2.16.0's MessageCreateParams no longer declares: sent, and passed to the
# SDK through ``extra_body``; the request test pins exactly this gap.
SDK_UNDECLARED = ("temperature", "top_p", "top_k")


def _sdk_kwargs(body: dict[str, Any]) -> dict[str, Any]:
    kwargs = {k: v for k, v in body.items() if k not in SDK_UNDECLARED}
    extra = {k: v for k, v in body.items() if k in SDK_UNDECLARED}
    return {**kwargs, "extra_body": extra} if extra else kwargs


# --- our responses are theirs -------------------------------------------------------------

@pytest.mark.parametrize("case", ALL)
def test_sdk_parses_our_answer(server: StandinServer, case: str) -> None:
    body = _body(server, case, stream=False)
    message = _client(server).messages.create(**_sdk_kwargs(body))
    typed = strict_model(Message, _rec(server).last_body())
    assert message.model_dump() == typed.model_dump()
    assert typed.usage.cache_read_input_tokens is not None
    assert typed.usage.cache_creation_input_tokens is not None
    kinds = [b.type for b in typed.content]
    if case == "tools":
        assert kinds == ["tool_use"] and typed.stop_reason == "tool_use"
    if case == "thinking":
        assert kinds[0] == "thinking" and typed.content[0].signature


@pytest.mark.parametrize("case", ALL)
def test_sdk_parses_our_stream(server: StandinServer, case: str) -> None:
    body = _body(server, case, stream=True)
    events = list(_client(server).messages.create(**_sdk_kwargs(body)))
    raw = [(name, data) for name, data in sse_data(_rec(server).last) if name != "ping"]
    assert len(events) == len(raw) > 3
    for (name, data), event in zip(raw, events, strict=True):
        typed = strict_model(RawMessageStreamEvent, data)
        assert typed.type == name == event.type  # the SSE event name is the payload's type
        assert event.model_dump() == typed.model_dump()
    # the SDK's own accumulator rebuilds the message from our events
    kwargs = _sdk_kwargs({k: v for k, v in body.items() if k != "stream"})
    with _client(server).messages.stream(**kwargs) as stream:
        final = stream.get_final_message()
    assert final.stop_reason in {"end_turn", "tool_use", "max_tokens", "stop_sequence"}


# 413 request_too_large is on https://docs.claude.com/en/api/errors but not in the SDK's
# ErrorObject union (2.16.0): the SDK would reject the real API's body there too.
@pytest.mark.parametrize("status", [400, 401, 402, 403, 404, 429, 500, 504, 529])
def test_sdk_classifies_our_errors(server: StandinServer, status: int) -> None:
    server.push(Fault.status(status, message=f"boom {status}"))
    with pytest.raises(anthropic.APIStatusError) as info:
        _client(server).messages.create(model=MODEL, max_tokens=8,
                                        messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == status
    raw = _rec(server).last_body()
    typed = strict_model(ErrorResponse, raw)
    assert typed.error.message == f"boom {status}"
    assert info.value.request_id == typed.request_id
    reply = _rec(server).last
    assert _provider(server).parse_error(
        HttpResponse(status, reply.headers, raw), MODEL).status == status


def test_sdk_parses_our_in_band_stream_error(server: StandinServer) -> None:
    server.push(Fault.in_band_error(after_chunks=3, message="Overloaded"))
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        list(_client(server).messages.create(
            model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "hi"}],
            stream=True))


# --- our requests are theirs --------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("case", ALL)
def test_our_body_fits_the_sdk_request_type(server: StandinServer, case: str,
                                            stream: bool) -> None:
    body = _body(server, case, stream)
    schema = MessageCreateParamsStreaming if stream else MessageCreateParamsNonStreaming
    gap = [f"$.{k}: unknown to {schema.__name__}" for k in SDK_UNDECLARED if k in body]
    assert typed_dict_problems(schema, body) == gap


def test_our_url_and_headers_are_the_sdks(server: StandinServer) -> None:
    ours = _provider(server).build_request(CASES["text"], MODEL, stream=False)
    _client(server).messages.create(**_sdk_kwargs(ours.json))
    sent = server.requests[-1]
    assert ours.url == server.url + sent.path
    mine = {k.lower(): v for k, v in ours.headers.items()}
    # The SDK pins the API version its types describe (2026-10-21: no sampling controls,
    # bearer auth); we send 2023-06-01, the version the plugin's body is written for and
    # which the API keeps serving. Moving needs the body moved with it: pinned here so
    # a change on either side is seen.
    assert (mine["anthropic-version"], sent.headers["anthropic-version"]) == (
        "2023-06-01", "2026-10-21")
    # the SDK sends its key as a bearer token; we send the documented x-api-key
    # (https://docs.claude.com/en/api/overview#authentication): the same key either way
    assert sent.headers["authorization"] == f"Bearer {mine['x-api-key']}"
    assert json.loads(sent.body) == ours.json
