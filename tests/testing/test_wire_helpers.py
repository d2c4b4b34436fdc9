"""``polyroute.testing.wire`` sends through the real ``Transport``: its encoding, framing
and network-error mapping are what a wire test sees (item 2 of issue 10's first slice)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import vcr
from echo_provider import EchoProvider

from polyroute.errors import (
    ProviderConnectionError,
    ProviderTimeoutError,
    StreamInterruptedError,
)
from polyroute.providers.base import HttpRequest, ProviderSettings
from polyroute.testing import wire
from polyroute.testing.standin import StandinServer
from polyroute.testing.streams import parse_events
from polyroute.types import ChatRequest, Message

URL = "https://api.example.test/v1/chat"


def _json_request(stream: bool = False, framing: str | None = None) -> HttpRequest:
    return HttpRequest("POST", URL, headers={"authorization": "Bearer k"},
                       json={"prompt": "héllo", "stream": stream}, framing=framing)


def test_send_encodes_like_the_transport() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(429, headers={"Retry-After": "3"}, json={"error": "slow down"})

    resp = wire.send(_json_request(), transport=httpx.MockTransport(handler))
    # the transport's compact, non-ASCII-preserving JSON and its content type
    assert seen[0].content == '{"prompt":"héllo","stream":false}'.encode()
    assert seen[0].headers["content-type"] == "application/json"
    assert seen[0].headers["authorization"] == "Bearer k"
    # an error status comes back as a response (the provider classifies it), not raised
    assert resp.status == 429 and resp.headers["retry-after"] == "3"
    assert resp.json() == {"error": "slow down"}


def test_open_stream_frames_events_and_keeps_headers() -> None:
    body = b'data: {"t": "a"}\n\ndata: {"t": "b"}\n\ndata: [DONE]\n\n'

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"Content-Type": "text/event-stream"}, content=body)

    reply = wire.open_stream(_json_request(stream=True), transport=httpx.MockTransport(handler))
    assert reply.status == 200 and reply.error is None
    assert reply.headers["content-type"] == "text/event-stream"
    assert [e.data for e in reply.events] == ['{"t": "a"}', '{"t": "b"}', "[DONE]"]


def test_open_stream_error_status_is_a_response_not_events() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error": {"type": "overloaded"}})

    reply = wire.open_stream(_json_request(stream=True), transport=httpx.MockTransport(handler))
    assert reply.status == 503 and reply.events == []
    assert reply.error is not None and json.loads(reply.error.content)["error"]["type"] == (
        "overloaded")


class _CutStream(httpx.SyncByteStream):
    """One event, then the connection drops."""

    def __iter__(self) -> Iterator[bytes]:
        yield b'data: {"t": "a"}\n\n'
        raise httpx.RemoteProtocolError("peer closed connection without sending complete body")


def test_cut_stream_is_the_transports_stream_interrupted_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"},
                              stream=_CutStream())

    with pytest.raises(StreamInterruptedError, match="stream cut mid-way") as info:
        wire.open_stream(_json_request(stream=True), provider="acme", model="m-1",
                         transport=httpx.MockTransport(handler))
    assert (info.value.provider, info.value.model) == ("acme", "m-1")


@pytest.mark.parametrize(("exc", "cls"), [
    (httpx.ConnectError("connection refused"), ProviderConnectionError),
    (httpx.ReadTimeout("timed out"), ProviderTimeoutError),
])
def test_network_failures_are_classified(exc: Exception, cls: type[Exception]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(cls):
        wire.send(_json_request(), provider="acme", model="m-1",
                  transport=httpx.MockTransport(handler))
    with pytest.raises(cls):
        wire.open_stream(_json_request(stream=True), provider="acme", model="m-1",
                         transport=httpx.MockTransport(handler))


def test_unregistered_framing_is_refused_with_the_known_ones() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x")

    with pytest.raises(ValueError, match="unknown stream framing 'carrier-pigeon'"):
        wire.open_stream(_json_request(stream=True, framing="carrier-pigeon"),  # type: ignore[arg-type]
                         transport=httpx.MockTransport(handler))


def test_ndjson_framing_and_parse_events() -> None:
    from polyroute.providers.base import StreamEvent, StreamParser
    from polyroute.types import ChatChunk

    class Texts(StreamParser):
        def feed(self, event: StreamEvent) -> list[ChatChunk]:
            return [ChatChunk(text=json.loads(event.data)["t"])]

        def close(self) -> list[ChatChunk]:
            return [ChatChunk(finish_reason="stop")]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b'{"t": "a"}\n{"t": "b"}\n')

    reply = wire.open_stream(_json_request(stream=True, framing="ndjson"),
                             transport=httpx.MockTransport(handler))
    chunks = parse_events(Texts(), reply.events)
    assert [c.text for c in chunks] == ["a", "b", ""] and chunks[-1].finish_reason == "stop"


def test_record_then_replay_through_the_transport(tmp_path: Path, primary: StandinServer) -> None:
    """What `make record` does, against a loopback stand-in instead of a real API: the
    cassette written while sending through the Transport replays with no server."""
    provider = EchoProvider(ProviderSettings(name="echo", type="echo", base_url=primary.url))
    request = ChatRequest(messages=[Message.user("hello there")])
    recorder = vcr.VCR(cassette_library_dir=str(tmp_path), record_mode="all",
                       match_on=["method", "scheme", "host", "port", "path", "body"])
    with recorder.use_cassette("echo.yaml"):
        live = wire.send(provider.build_request(request, "m", stream=False))
        live_stream = wire.open_stream(provider.build_request(request, "m", stream=True))
    assert live.status == 200 and live_stream.status == 200 and len(primary.requests) == 2

    replayer = vcr.VCR(cassette_library_dir=str(tmp_path), record_mode="none",
                       match_on=["method", "scheme", "host", "port", "path", "body"])
    with replayer.use_cassette("echo.yaml"):
        again = wire.send(provider.build_request(request, "m", stream=False))
        again_stream = wire.open_stream(provider.build_request(request, "m", stream=True))
    assert len(primary.requests) == 2  # nothing reached the stand-in
    assert provider.parse_response(again, "m").message.text == "primary says: hello there"
    chunks = parse_events(provider.stream_parser("m"), again_stream.events)
    assert "".join(c.text for c in chunks).strip() == "primary says: hello there"
    assert [e.data for e in again_stream.events] == [e.data for e in live_stream.events]
