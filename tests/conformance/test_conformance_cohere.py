"""Cohere Chat v2: the official ``cohere`` SDK (7.3.1) as the oracle.

Responses: ``cohere.ClientV2`` is pointed at ``CohereResponder`` and parses every answer,
stream event and error; each raw body is validated again, strictly, as the SDK's
``V2ChatResponse`` / ``V2ChatStreamResponse``, with no undeclared field.
Requests: the SDK's ``chat`` takes named arguments and serialises them through its own
types, so the body it puts on the wire for our arguments must be our body; each
message, tool and response format also validates as the SDK's ``ChatMessageV2`` /
``ToolV2`` / ``ResponseFormatV2``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

cohere = pytest.importorskip("cohere")

import pydantic
from cohere.v2.types.v2chat_response import V2ChatResponse
from cohere.v2.types.v2chat_stream_response import V2ChatStreamResponse
from sdk_oracle import Recording, scenarios, sent_differences, sse_data, strict_model

from polyroute.providers.base import HttpResponse, ProviderSettings
from polyroute.secrets import Secret
from polyroute.testing.standin import Fault, StandinServer
from polyroute_cohere import CohereProvider
from polyroute_cohere.standin import CohereResponder

MODEL = "command-a-03-2025"
KEY = "cohere-conformance-test-key-0000"
CASES = scenarios()
# message-start's delta.message as https://docs.cohere.com/docs/streaming shows it (and
# cassettes/cohere_wire/test_streaming.yaml holds it); the SDK's
# ChatMessageStartEventDeltaMessage declares only ``role``.
DOCUMENTED = [f"$.delta.message.{k}" for k in ("content", "tool_plan", "tool_calls",
                                               "citations")]
NO_RETRY = {"max_retries": 0}


@pytest.fixture
def server() -> Iterator[StandinServer]:
    with StandinServer(Recording(CohereResponder())) as s:
        yield s


def _client(server: StandinServer) -> Any:
    return cohere.ClientV2(api_key=KEY, base_url=server.url)


def _provider(server: StandinServer) -> CohereProvider:
    return CohereProvider(ProviderSettings(name="cohere", type="cohere", api_key=Secret(KEY),
                                           base_url=server.url))


def _rec(server: StandinServer) -> Recording:
    assert isinstance(server.responder, Recording)
    return server.responder


def _kwargs(server: StandinServer, case: str) -> dict[str, Any]:
    body = _provider(server).build_request(CASES[case], MODEL, stream=False).json
    return {k: v for k, v in body.items() if k != "stream"}


# --- our responses are theirs -------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
def test_sdk_parses_our_answer(server: StandinServer, case: str) -> None:
    res = _client(server).chat(**_kwargs(server, case))
    typed = strict_model(V2ChatResponse, _rec(server).last_body())
    assert res.model_dump() == typed.model_dump()
    assert typed.usage is not None and typed.usage.billed_units is not None
    assert typed.usage.tokens is not None
    if case == "tools":
        calls = typed.message.tool_calls or []
        assert [c.function.name for c in calls] == ["get_weather"]
        assert typed.finish_reason == "TOOL_CALL"


@pytest.mark.parametrize("case", sorted(CASES))
def test_sdk_parses_our_stream(server: StandinServer, case: str) -> None:
    events = list(_client(server).chat_stream(**_kwargs(server, case)))
    raw = sse_data(_rec(server).last)
    assert len(events) == len(raw) > 3
    for (name, data), event in zip(raw, events, strict=True):
        typed = strict_model(V2ChatStreamResponse, data, documented=DOCUMENTED)
        assert typed.type == event.type == (name or typed.type)
        assert event.model_dump() == typed.model_dump()
    assert events[-1].type == "message-end"


@pytest.mark.parametrize("status", [400, 401, 404, 429, 499, 500, 503])
def test_sdk_classifies_our_errors(server: StandinServer, status: int) -> None:
    server.push(Fault.status(status, message=f"boom {status}"))
    with pytest.raises(cohere.core.ApiError) as info:
        _client(server).chat(model=MODEL, messages=[{"role": "user", "content": "hi"}],
                             request_options=NO_RETRY)
    assert info.value.status_code == status
    raw = _rec(server).last_body()
    assert info.value.body == json.loads(raw)
    assert set(info.value.body) <= {"id", "message", "data"}
    reply = _rec(server).last
    assert _provider(server).parse_error(
        HttpResponse(status, reply.headers, raw), MODEL).status == status


# --- our requests are theirs --------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
def test_the_sdk_sends_our_body(server: StandinServer, case: str) -> None:
    ours = _provider(server).build_request(CASES[case], MODEL, stream=True)
    list(_client(server).chat_stream(**{k: v for k, v in ours.json.items() if k != "stream"}))
    sent = server.requests[-1]
    assert ours.url == server.url + sent.path
    assert sent_differences(json.loads(sent.body), ours.json) == []
    mine = {k.lower(): v for k, v in ours.headers.items()}
    assert mine["authorization"] == sent.headers["authorization"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_our_parts_fit_the_sdk_types(server: StandinServer, case: str) -> None:
    body = _kwargs(server, case)
    for i, message in enumerate(body["messages"]):
        strict_model(cohere.ChatMessageV2, message, strict=False), i
    for tool in body.get("tools", []):
        strict_model(cohere.ToolV2, tool, strict=False)
    if "response_format" in body:
        strict_model(cohere.ResponseFormatV2, body["response_format"], strict=False)


def test_the_type_check_fails_on_a_wrong_role() -> None:
    with pytest.raises(AssertionError):
        strict_model(cohere.ChatMessageV2, {"role": "robot", "content": "x"}, strict=False)
    assert pydantic  # imported for the SDK's union validation


def test_sdk_reads_our_in_band_stream_error(server: StandinServer) -> None:
    """Cohere ends a failed stream with ``message-end``, ``finish_reason: ERROR`` and
    ``delta.error``: the SDK's event type reads it, strictly."""
    server.push(Fault.in_band_error(after_chunks=2, message="model failed"))
    events = list(_client(server).chat_stream(model=MODEL,
                                              messages=[{"role": "user", "content": "hi"}]))
    assert events[-1].type == "message-end"
    assert events[-1].delta.finish_reason == "ERROR" and events[-1].delta.error == "model failed"
    raw = _rec(server).inner.stream_error_event(server.requests[-1], "model failed")
    strict_model(V2ChatStreamResponse, raw.decode().split("data: ", 1)[1])
