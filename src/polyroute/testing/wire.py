"""Send a provider's requests through polyroute's real ``Transport``, for wire tests.

A cassette test builds the request with the plugin, sends it here and parses
what comes back with the plugin: the bytes travel exactly as under the router
(the transport's JSON encoding and headers, timeouts, stream framing including
plugin-registered framings, and its mapping of network failures to
``ProviderTimeoutError`` / ``ProviderConnectionError`` / ``StreamInterruptedError``).

Who answers:

- a cassette: mark the test ``@pytest.mark.vcr`` (pytest-recording). vcrpy
  intercepts httpx's transport layer under the ``Transport``'s client, so replay
  needs no network, and ``make record`` (``--record-mode=rewrite``) records the
  real API through the same code path;
- a function: ``transport=httpx.MockTransport(handler)``;
- a loopback stand-in (``StandinServer``): just its URL.

    resp = wire.send(provider.build_request(request, model, stream=False))
    reply = wire.open_stream(provider.build_request(request, model, stream=True))
    chunks = parse_events(provider.stream_parser(model), reply.events)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from polyroute.providers.base import HttpRequest, HttpResponse, StreamEvent
from polyroute.transport import Timeouts, Transport

__all__ = ["DEFAULT_TIMEOUTS", "StreamReply", "Timeouts", "open_stream", "send"]

# Long enough for a real API while recording; replay never waits.
DEFAULT_TIMEOUTS = Timeouts(connect=10.0, read=60.0, total=None)


@dataclass(frozen=True)
class StreamReply:
    """What a streamed request got: ``events`` framed by the transport when the
    status is 2xx, else ``error`` (the whole error response, for ``parse_error``)."""

    status: int
    headers: Mapping[str, str]
    events: list[StreamEvent] = field(default_factory=list)
    error: HttpResponse | None = None


def _transport(
    transport: httpx.BaseTransport | None, hooks: list[Callable[..., Any]] | None = None,
) -> Transport:
    client = httpx.Client(transport=transport, event_hooks={"response": hooks or []})
    return Transport(client=client, async_http="httpx")


def send(
    req: HttpRequest, *, provider: str = "test", model: str = "test",
    timeouts: Timeouts = DEFAULT_TIMEOUTS, transport: httpx.BaseTransport | None = None,
) -> HttpResponse:
    """``req`` sent once by a fresh ``Transport``: the response, whatever its status.
    A network failure raises the transport's classified error, named ``provider``/``model``."""
    t = _transport(transport)
    try:
        return t.send(req, timeouts, provider=provider, model=model)
    finally:
        t.close()


def open_stream(
    req: HttpRequest, *, provider: str = "test", model: str = "test",
    timeouts: Timeouts = DEFAULT_TIMEOUTS, transport: httpx.BaseTransport | None = None,
) -> StreamReply:
    """``req`` streamed by a fresh ``Transport`` and read to the end.

    The framing is ``req.framing`` (``sse`` by default; a plugin's own framing must be
    registered first, e.g. by ``PluginRegistry.create(plugins=[...])``). A cut or
    stalled body raises the transport's ``StreamInterruptedError`` /
    ``ProviderTimeoutError``; a malformed frame raises the decoder's error.
    """
    seen: list[httpx.Response] = []
    t = _transport(transport, [seen.append])
    try:
        with t.stream(req, timeouts, provider=provider, model=model) as (error, events):
            if error is not None:
                return StreamReply(error.status, _lower(error.headers), error=error)
            framed = [event for batch in events for event in batch]  # one batch per read
        # the transport yields no headers for a 2xx stream; the client's hook saw them
        return StreamReply(seen[-1].status_code, _lower(seen[-1].headers), framed)
    finally:
        t.close()


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}
