"""Drive one provider's translation over real HTTP through the core transport.

For plugin tests against a stand-in (``StandinServer``): the same send, framing
and error mapping the router uses, without routing, retries or guards, so a
test sees exactly what the plugin does with the bytes.
"""

from __future__ import annotations

from polyroute.providers.base import HttpRequest, HttpResponse, Provider
from polyroute.transport import Timeouts, Transport
from polyroute.types import ChatChunk, ChatRequest, ChatResponse

__all__ = ["chat", "send", "stream"]


def _timeouts(seconds: float) -> Timeouts:
    return Timeouts(connect=seconds, read=seconds, total=None)


def send(req: HttpRequest, *, timeout: float = 5.0) -> HttpResponse:
    """Send ``req`` as the router would and return the raw response."""
    transport = Transport(async_http="httpx")
    try:
        return transport.send(req, _timeouts(timeout), provider="test", model="test")
    finally:
        transport.close()


def chat(
    provider: Provider, request: ChatRequest, model: str, *, timeout: float = 5.0
) -> ChatResponse:
    """``request`` through ``provider`` once: its parsed answer, or its classified error raised."""
    resp = send(provider.build_request(request, model, stream=False), timeout=timeout)
    if resp.status >= 400:
        raise provider.parse_error(resp, model)
    return provider.parse_response(resp, model)


def stream(
    provider: Provider, request: ChatRequest, model: str, *, timeout: float = 5.0
) -> list[ChatChunk]:
    """``request`` streamed through ``provider``: every chunk its parser made, or the
    classified error (a cut connection is ``StreamInterruptedError``)."""
    req = provider.build_request(request, model, stream=True)
    parser = provider.stream_parser(model)
    out: list[ChatChunk] = []
    transport = Transport(async_http="httpx")
    try:
        with transport.stream(req, _timeouts(timeout), provider=provider.name,
                              model=model) as (error, events):
            if error is not None:
                raise provider.parse_error(error, model)
            for batch in events:  # the events of one read
                for event in batch:
                    out.extend(parser.feed(event))
        out.extend(parser.close())
    finally:
        transport.close()
    return out
