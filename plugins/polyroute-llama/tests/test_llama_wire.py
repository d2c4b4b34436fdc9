"""Replay cassettes/llama_wire/ through polyroute's real ``Transport`` (vcrpy answers under
its httpx client): the request bytes must match the cassette, the answers parse."""

from __future__ import annotations

import pytest

from polyroute.errors import AuthenticationError, RateLimitError, ServerError
from polyroute.providers.base import ProviderSettings
from polyroute.testing import wire
from polyroute.testing.chat import WEATHER, user
from polyroute.testing.streams import parse_events
from polyroute_llama import LlamaProvider

pytestmark = pytest.mark.vcr

P = LlamaProvider(ProviderSettings(name="llama", type="llama", api_key="k-replay",
                                   base_url="https://api.llama.com/v1"))
MODEL = "Llama-4-Maverick-17B-128E-Instruct-FP8"


def test_text_completion() -> None:
    r = P.parse_response(wire.send(P.build_request(user("Hello!"), MODEL, stream=False)), MODEL)
    assert r.message.text.startswith("Hello from the Llama API stand-in")
    assert r.finish_reason == "stop" and r.usage.input_tokens > 0


def test_streaming() -> None:
    reply = wire.open_stream(P.build_request(user("Tell me a short story about a llama"),
                                             MODEL, stream=True))
    chunks = parse_events(P.stream_parser(MODEL), reply.events)
    assert "".join(c.text for c in chunks).startswith("Hello from the Llama API stand-in")
    assert chunks[-1].usage is not None


def test_tool_call() -> None:
    req = user("What is the weather in 'Menlo Park'?", tools=[WEATHER])
    r = P.parse_response(wire.send(P.build_request(req, MODEL, stream=False)), MODEL)
    assert r.finish_reason == "tool_calls"
    assert r.message.tool_calls[0].arguments["city"] == "Menlo Park"


def test_tool_call_streaming() -> None:
    req = user("Weather in 'Lima'?", tools=[WEATHER])
    reply = wire.open_stream(P.build_request(req, MODEL, stream=True))
    chunks = parse_events(P.stream_parser(MODEL), reply.events)
    deltas = [d for c in chunks for d in c.tool_calls]
    assert deltas[0].name == "get_weather" and '"Lima"' in "".join(d.arguments for d in deltas)


def _error() -> Exception:
    return P.parse_error(wire.send(P.build_request(user("Hello!"), MODEL, stream=False)), MODEL)


def test_unauthorized_401() -> None:
    assert isinstance(_error(), AuthenticationError)


def test_rate_limited_429() -> None:
    err = _error()
    assert isinstance(err, RateLimitError) and err.retry_after == 7


def test_server_error_500() -> None:
    assert isinstance(_error(), ServerError)
