"""Ollama's native chat API: the official ``ollama`` Python client (0.6.3) as the oracle.

Responses: ``ollama.Client(host=...)`` is pointed at ``OllamaResponder`` and parses every
answer, NDJSON stream line and error; each raw line is validated again, strictly, as
the client's ``ChatResponse``, with no undeclared field.
Requests: the body ``OllamaProvider`` builds validates as the client's ``ChatRequest``
model (no undeclared key) and equals what the client sends for the same arguments.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

ollama = pytest.importorskip("ollama")

from ollama._types import ChatRequest as OllamaChatRequest
from ollama._types import ChatResponse
from sdk_oracle import Recording, scenarios, sent_differences, strict_model, unknown_fields

from polyroute.providers.base import HttpResponse, ProviderSettings
from polyroute.testing.standin import Fault, StandinServer
from polyroute_ollama import OllamaProvider
from polyroute_ollama.standin import OllamaResponder

MODEL = "llama3.2"
CASES = scenarios()


@pytest.fixture
def server() -> Iterator[StandinServer]:
    with StandinServer(Recording(OllamaResponder())) as s:
        yield s


def _client(server: StandinServer) -> Any:
    return ollama.Client(host=server.url)


def _provider(server: StandinServer) -> OllamaProvider:
    return OllamaProvider(ProviderSettings(name="ollama", type="ollama", base_url=server.url))


def _rec(server: StandinServer) -> Recording:
    assert isinstance(server.responder, Recording)
    return server.responder


def _body(server: StandinServer, case: str, stream: bool) -> dict[str, Any]:
    return _provider(server).build_request(CASES[case], MODEL, stream=stream).json


def _lines(server: StandinServer) -> list[bytes]:
    return [line for chunk in _rec(server).last.chunks or [] for line in chunk.splitlines()
            if line.strip()]


# --- our responses are theirs -------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
def test_sdk_parses_our_answer(server: StandinServer, case: str) -> None:
    res = _client(server).chat(**_body(server, case, False))
    typed = strict_model(ChatResponse, _rec(server).last_body())
    assert res.model_dump() == typed.model_dump()
    assert typed.done and typed.prompt_eval_count is not None and typed.eval_count is not None
    if case == "tools":
        assert [c.function.name for c in typed.message.tool_calls or []] == ["get_weather"]
    if case == "json_schema":
        assert set(json.loads(typed.message.content or "")) == {"name", "age"}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sdk_parses_our_stream(server: StandinServer, case: str) -> None:
    parts = list(_client(server).chat(**_body(server, case, True)))
    lines = _lines(server)
    assert len(parts) == len(lines) > 1
    for line, part in zip(lines, parts, strict=True):
        assert part.model_dump() == strict_model(ChatResponse, line).model_dump()
    assert parts[-1].done and parts[-1].done_reason in {"stop", "length"}


@pytest.mark.parametrize("status", [400, 401, 404, 429, 500, 503])
def test_sdk_classifies_our_errors(server: StandinServer, status: int) -> None:
    server.push(Fault.status(status, message=f"boom {status}"))
    with pytest.raises(ollama.ResponseError) as info:
        _client(server).chat(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert (info.value.status_code, info.value.error) == (status, f"boom {status}")
    raw = _rec(server).last_body()
    assert json.loads(raw) == {"error": f"boom {status}"}  # the documented error body
    reply = _rec(server).last
    assert _provider(server).parse_error(
        HttpResponse(status, reply.headers, raw), MODEL).status == status


def test_sdk_raises_our_in_band_stream_error(server: StandinServer) -> None:
    server.push(Fault.in_band_error(after_chunks=2, message="model crashed"))
    with pytest.raises(ollama.ResponseError, match="model crashed"):
        list(_client(server).chat(model=MODEL, messages=[{"role": "user", "content": "hi"}],
                                  stream=True))


# --- our requests are theirs --------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("case", sorted(CASES))
def test_our_body_fits_the_sdk_request_model(server: StandinServer, case: str,
                                             stream: bool) -> None:
    body = _body(server, case, stream)
    typed = OllamaChatRequest.model_validate(body)
    assert unknown_fields(typed, body) == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_sdk_sends_our_body(server: StandinServer, case: str) -> None:
    ours = _provider(server).build_request(CASES[case], MODEL, stream=False)
    _client(server).chat(**ours.json)
    sent = server.requests[-1]
    assert ours.url == server.url + sent.path
    theirs = json.loads(sent.body)
    # The client leaves out every falsy message field (``content: ""`` of a tool-call
    # turn) and always sends ``tools`` (``[]`` when none): the server reads both the same.
    if theirs.get("tools") == [] and "tools" not in ours.json:
        del theirs["tools"]
    mine = {**ours.json, "messages": [{k: v for k, v in m.items() if v}
                                      for m in ours.json["messages"]]}
    assert sent_differences(theirs, mine) == []
