"""The only place polyroute does HTTP: pooled httpx clients, timeouts, stream framing.

Providers describe requests (``HttpRequest``); the transport sends them and
hands back an ``HttpResponse`` or a stream of framed ``StreamEvent``s, handed up
as one list per network read (a read usually completes several SSE events, and
every hand-up is a trip through the call's steps, see ``routing.steps``). Network
failures become ``ProviderTimeoutError`` / ``ProviderConnectionError`` here,
named with the provider and model, so nothing below the router leaks an httpx
exception. vcrpy patches httpx, so record/replay covers every provider.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from json.encoder import encode_basestring as _encode_str
from typing import TYPE_CHECKING, Any, Literal

import httpx

from polyroute.errors import (
    ConfigError,
    ProviderConnectionError,
    ProviderError,
    ProviderTimeoutError,
    StreamInterruptedError,
)
from polyroute.framing import decoder_for
from polyroute.providers.base import HttpRequest, HttpResponse, StreamEvent
from polyroute.transport_loops import PerLoop

if TYPE_CHECKING:
    from polyroute.transport_aiohttp import AiohttpSender
    from polyroute.transport_pyreqwest import PyreqwestSender

__all__ = ["StreamHandle", "Timeouts", "Transport"]

_JSON_HEADERS = {"content-type": "application/json"}
try:  # CPython's C encoder, what json.dumps itself runs on
    from json.encoder import c_make_encoder as _c_make_encoder  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - an interpreter without _json
    _c_make_encoder = None


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds. ``connect`` and ``read`` bound each attempt's socket operations;
    ``total`` spans all attempts and fallbacks of one routed call. For streams,
    ``first_token`` bounds the wait for the first body bytes (default: ``read``) and
    ``chunk`` every later gap between two chunks (default: ``read``).

    Async streams enforce both exactly (each read is awaited with its own bound).
    Sync streams set the socket's read timeout to the larger of the two and check
    every gap as it ends, so a stall always fails, at the latest after that bound.
    """

    connect: float = 10.0
    read: float = 120.0
    total: float | None = 600.0
    first_token: float | None = None
    chunk: float | None = None

    def httpx_timeout(self, remaining: float | None, *, stream: bool) -> httpx.Timeout:
        read = self.read
        if stream and (self.first_token is not None or self.chunk is not None):
            read = max(self.first_token or 0.0, self.chunk or 0.0)
        if remaining is not None:
            read = min(read, remaining)
        return httpx.Timeout(connect=self.connect, read=read, write=self.read, pool=self.connect)

    def gaps(self) -> tuple[float | None, float | None]:
        """(first-bytes bound, between-chunks bound) for a stream; ``None``: socket only."""
        if self.first_token is None and self.chunk is None:
            return None, None
        return self.first_token or self.read, self.chunk or self.read


def _stalled(provider: str, model: str, waited: float, first: bool) -> ProviderError:
    what = "no first token" if first else "stream stalled"
    cls = ProviderTimeoutError if first else StreamInterruptedError
    return cls(f"{what}: {waited:.2f}s without a chunk", provider=provider, model=model)


_BODY_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def json_body(value: Any) -> bytes:
    """``json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()``: the
    same bytes and the same errors (NaN as ``NaN``, a cycle's ``ValueError``, an
    unknown type's ``TypeError``), without ``dumps`` building an encoder on every call
    (~0.9 of its ~3 µs for a chat body). The C encoder gets a fresh ``markers`` dict
    each time, as ``json.dumps`` gives it, so a failed call leaves nothing behind."""
    if _c_make_encoder is None or isinstance(value, str):
        return _BODY_ENCODER.encode(value).encode()
    chunks = _c_make_encoder({}, _BODY_ENCODER.default, _encode_str, None, ":", ",",
                             False, False, True)(value, 0)
    return "".join(chunks).encode()


def _encode(req: HttpRequest) -> tuple[bytes | None, dict[str, str]]:
    if req.content is not None:
        return req.content, dict(req.headers)
    if req.json is None:
        return None, dict(req.headers)
    return json_body(req.json), {**_JSON_HEADERS, **req.headers}


def _network_error(
    exc: Exception, provider: str, model: str, *, stream_started: bool
) -> ProviderError:
    name = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException | asyncio.TimeoutError | TimeoutError):
        kind = "stream stalled" if stream_started else "timed out"
        return ProviderTimeoutError(f"{kind} ({name})", provider=provider, model=model)
    if stream_started:
        return StreamInterruptedError(
            f"stream cut mid-way ({name}: {exc})", provider=provider, model=model
        )
    return ProviderConnectionError(
        f"connection failed ({name}: {exc})", provider=provider, model=model
    )


class _Named:
    """Around an httpx call, blocking or awaited: its network failure as a
    ``ProviderError`` named with the provider and model."""

    __slots__ = ("model", "provider")

    def __init__(self, provider: str, model: str) -> None:
        self.provider, self.model = provider, model

    def __enter__(self) -> None:
        return None

    def __exit__(self, tp: type[BaseException] | None, exc: BaseException | None,
                 tb: object) -> None:
        if isinstance(exc, httpx.HTTPError):
            raise _network_error(exc, self.provider, self.model, stream_started=False) from exc


class _Frames:
    """One stream's body bytes as framed events: the decoder, the stall bounds and
    the errors named for the provider — what reading a stream does, sync or async."""

    __slots__ = ("decoder", "first", "gap", "model", "provider", "rejected", "started")

    def __init__(self, req: HttpRequest, provider: str, model: str, timeouts: Timeouts) -> None:
        self.decoder = decoder_for(req.framing or "sse")
        self.first, self.gap = timeouts.gaps()
        self.provider, self.model = provider, model
        self.started = False
        self.rejected: Exception | None = None

    def bound(self) -> float | None:
        """How long the next read may take (``None``: the socket's timeout only)."""
        return self.gap if self.started else self.first

    def feed(self, data: bytes) -> list[StreamEvent]:
        """The events ``data`` completes, as one batch."""
        self.started = True
        return self.batch(self.decoder.feed(data))

    def close(self) -> list[StreamEvent]:
        """The events the decoder still held when the body ended."""
        return self.batch(self.decoder.close())

    def batch(self, framed: Iterable[StreamEvent]) -> list[StreamEvent]:
        # A frame the decoder rejects after good ones in the same read: the good ones
        # go up first and the error is raised right after (``rejected``), as when
        # events went up one by one (content already sent is then a mid-stream failure).
        events: list[StreamEvent] = []
        try:
            events.extend(framed)
        except Exception as exc:
            if not events:
                raise
            self.rejected = exc
        return events

    def stalled(self, waited: float) -> ProviderError:
        return _stalled(self.provider, self.model, waited, not self.started)

    def failed(self, exc: Exception) -> ProviderError:
        return _network_error(exc, self.provider, self.model, stream_started=self.started)


def _stream_request(client: httpx.Client | httpx.AsyncClient, req: HttpRequest,
                    timeouts: Timeouts, remaining: float | None) -> httpx.Request:
    body, headers = _encode(req)
    return client.build_request(req.method, req.url, content=body, headers=headers,
                                timeout=timeouts.httpx_timeout(remaining, stream=True))


class StreamHandle:
    """An open streamed response: its status and headers, then its events."""

    def __init__(self, status: int, headers: httpx.Headers) -> None:
        self.status = status
        self.headers = headers


class Transport:
    """Pooled sync and async httpx clients shared by every provider of a router."""

    def __init__(
        self,
        *,
        max_connections: int = 200,
        max_keepalive_connections: int = 50,
        client: httpx.Client | None = None,
        async_client: httpx.AsyncClient | None = None,
        verify: bool = True,
        async_http: Literal["aiohttp", "httpx", "pyreqwest"] = "aiohttp",
    ) -> None:
        """``async_http``: the client under async sends and streams (``achat``,
        ``astream``); aiohttp by default, chosen on measurement (see
        ``transport_aiohttp``). ``pyreqwest`` (optional extra) takes one-shot sends
        and leaves streams on aiohttp; on a busy loop's core it costs more than it
        saves (its Rust thread waits for the GIL on every reply: bench/threads.py,
        docs/benchmark.md). Passing ``async_client`` (an httpx client)
        implies ``httpx``."""
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_keepalive_connections
        )
        self._verify = verify
        self._client = client
        self._fixed_async_client = async_client
        self._sender: AiohttpSender | None = None
        self._oneshot: PyreqwestSender | None = None
        if async_http == "pyreqwest" and async_client is None:
            try:
                from polyroute.transport_pyreqwest import PyreqwestSender
            except ImportError as exc:
                raise ConfigError(
                    f"async_http='pyreqwest' needs the pyreqwest package ({exc})",
                    field="Transport(async_http=...)",
                    fix="pip install 'polyroute[pyreqwest]', or use async_http='aiohttp' "
                        "(the default)",
                ) from exc
            self._oneshot = PyreqwestSender(limit=max_connections, verify=verify)
        if async_http in ("aiohttp", "pyreqwest") and async_client is None:
            from polyroute.transport_aiohttp import AiohttpSender

            self._sender = AiohttpSender(limit=max_connections, verify=verify)
        # One pool per event loop (an AsyncClient is loop-bound), closed with it at the latest.
        self._async_clients: PerLoop[httpx.AsyncClient] = PerLoop(
            lambda: httpx.AsyncClient(limits=self._limits, verify=self._verify),
            _aclose_client, lambda c: c.is_closed,
        )
        self._lock = threading.Lock()

    # Clients are created on first use: a router that only answers async never
    # opens a sync pool, and each event loop gets its own async pool (an httpx
    # AsyncClient cannot be shared across loops).
    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = httpx.Client(limits=self._limits, verify=self._verify)
        return self._client

    async def async_client(self) -> httpx.AsyncClient:
        if self._fixed_async_client is not None:
            return self._fixed_async_client
        return self._async_clients.get() or await self._async_clients.get_or_open()

    # --- one-shot ------------------------------------------------------------

    def send(
        self, req: HttpRequest, timeouts: Timeouts, *, provider: str, model: str,
        remaining: float | None = None,
    ) -> HttpResponse:
        body, headers = _encode(req)
        with _Named(provider, model):
            r = self.client.request(
                req.method, req.url, content=body, headers=headers,
                timeout=timeouts.httpx_timeout(remaining, stream=False),
            )
        return HttpResponse(r.status_code, r.headers, r.content)

    async def asend(
        self, req: HttpRequest, timeouts: Timeouts, *, provider: str, model: str,
        remaining: float | None = None,
    ) -> HttpResponse:
        body, headers = _encode(req)
        if self._oneshot is not None:
            from polyroute.transport_pyreqwest import NETWORK_ERRORS as FAILED

            read = timeouts.read if remaining is None else min(timeouts.read, remaining)
            try:
                return await self._oneshot.send(
                    req, body, headers, connect=timeouts.connect, read=read
                )
            except FAILED as exc:
                raise _network_error(exc, provider, model, stream_started=False) from exc
        if self._sender is not None:
            from polyroute.transport_aiohttp import NETWORK_ERRORS

            read = timeouts.read if remaining is None else min(timeouts.read, remaining)
            try:
                return await self._sender.send(
                    req, body, headers, connect=timeouts.connect, read=read
                )
            except NETWORK_ERRORS as exc:
                raise _network_error(
                    exc, provider, model, stream_started=False
                ) from exc
        client = await self.async_client()
        with _Named(provider, model):
            r = await client.request(
                req.method, req.url, content=body, headers=headers,
                timeout=timeouts.httpx_timeout(remaining, stream=False),
            )
        return HttpResponse(r.status_code, r.headers, r.content)

    # --- streams: the I/O calls twice (blocking, awaited), the rest in _Frames ---------

    @contextmanager
    def stream(
        self, req: HttpRequest, timeouts: Timeouts, *, provider: str, model: str,
        remaining: float | None = None,
    ) -> Iterator[tuple[HttpResponse | None, Iterator[list[StreamEvent]]]]:
        """Yield ``(error_response, events)``: ``error_response`` is set (and
        ``events`` empty) when the status is not 2xx. ``events`` yields a list of
        the events each read completed (never an empty one)."""
        named, client = _Named(provider, model), self.client
        with named:
            r = client.send(_stream_request(client, req, timeouts, remaining), stream=True)
        try:
            if r.status_code < 400:
                yield None, self._events(r, _Frames(req, provider, model, timeouts))
            else:
                with named:
                    content = r.read()
                yield HttpResponse(r.status_code, r.headers, content), iter(())
        finally:
            r.close()

    @staticmethod
    def _events(r: httpx.Response, frames: _Frames) -> Iterator[list[StreamEvent]]:
        # A sync read cannot be bounded by itself: each gap is checked as it ends.
        last = time.monotonic()
        try:
            for data in r.iter_bytes():
                bound = frames.bound()
                if bound is not None:
                    now = time.monotonic()
                    if now - last > bound:
                        raise frames.stalled(now - last)
                    last = now
                events = frames.feed(data)
                if events:
                    yield events
                if frames.rejected is not None:
                    raise frames.rejected
        except httpx.HTTPError as exc:
            raise frames.failed(exc) from exc
        yield from _last(frames)

    @asynccontextmanager
    async def astream(
        self, req: HttpRequest, timeouts: Timeouts, *, provider: str, model: str,
        remaining: float | None = None,
    ) -> AsyncIterator[tuple[HttpResponse | None, AsyncIterator[list[StreamEvent]]]]:
        """``stream``, awaited: ``events`` yields a list of events per read."""
        if self._sender is not None:
            async with self._aio_stream(req, timeouts, provider, model, remaining) as opened:
                yield opened
            return
        named, client = _Named(provider, model), await self.async_client()
        with named:
            r = await client.send(_stream_request(client, req, timeouts, remaining),
                                  stream=True)
        try:
            if r.status_code < 400:
                yield None, self._aevents(r, _Frames(req, provider, model, timeouts))
            else:
                with named:
                    content = await r.aread()
                yield HttpResponse(r.status_code, r.headers, content), _empty()
        finally:
            await r.aclose()

    @staticmethod
    async def _aevents(r: httpx.Response, frames: _Frames) -> AsyncIterator[list[StreamEvent]]:
        body = r.aiter_bytes()
        try:
            while True:
                bound, t0 = frames.bound(), time.monotonic()
                try:
                    data = await (body.__anext__() if bound is None
                                  else asyncio.wait_for(body.__anext__(), bound))
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    raise frames.stalled(time.monotonic() - t0) from None
                events = frames.feed(data)
                if events:
                    yield events
                if frames.rejected is not None:
                    raise frames.rejected
        except httpx.HTTPError as exc:
            raise frames.failed(exc) from exc
        for events in _last(frames):
            yield events

    @asynccontextmanager
    async def _aio_stream(
        self, req: HttpRequest, timeouts: Timeouts, provider: str, model: str,
        remaining: float | None,
    ) -> AsyncIterator[tuple[HttpResponse | None, AsyncIterator[list[StreamEvent]]]]:
        """``astream`` over aiohttp (the default). Only opening is mapped here: what the
        caller raises while reading (its own deadline's ``TimeoutError``, say) passes
        through untouched; read failures are mapped in ``_aio_events``."""
        from polyroute.transport_aiohttp import NETWORK_ERRORS

        assert self._sender is not None
        body, headers = _encode(req)
        read = timeouts.read
        first, gap = timeouts.gaps()
        if first is not None and gap is not None:
            read = max(first, gap)
        if remaining is not None:
            read = min(read, remaining)
        try:
            r = await self._sender.open(req, body, headers, connect=timeouts.connect, read=read)
        except NETWORK_ERRORS as exc:
            raise _network_error(exc, provider, model, stream_started=False) from exc
        try:
            if r.status < 400:
                yield None, self._aio_events(r, _Frames(req, provider, model, timeouts))
            else:
                try:
                    content = await r.read()
                except NETWORK_ERRORS as exc:
                    raise _network_error(exc, provider, model, stream_started=False) from exc
                yield HttpResponse(r.status, r.headers, content), _empty()
        finally:
            r.release()  # back to the pool if read to the end; an unfinished one closes

    @staticmethod
    async def _aio_events(r: Any, frames: _Frames) -> AsyncIterator[list[StreamEvent]]:
        from polyroute.transport_aiohttp import NETWORK_ERRORS

        chunks = r.content.iter_any().__aiter__()
        try:
            while True:
                bound, t0 = frames.bound(), time.monotonic()
                try:
                    data = await (chunks.__anext__() if bound is None
                                  else asyncio.wait_for(chunks.__anext__(), bound))
                except StopAsyncIteration:
                    break
                except TimeoutError as exc:
                    if bound is None:  # the socket's read timeout (aiohttp's sock_read)
                        raise frames.failed(exc) from exc
                    raise frames.stalled(time.monotonic() - t0) from None
                events = frames.feed(data)
                if events:
                    yield events
                if frames.rejected is not None:
                    raise frames.rejected
        except NETWORK_ERRORS as exc:
            raise frames.failed(exc) from exc
        for events in _last(frames):
            yield events

    # --- lifecycle -----------------------------------------------------------

    def close(self) -> None:
        """Close the sync pool and every event loop's async pool (an idle loop runs its
        close; a running one closes it at the latest when it ends)."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._sender is not None:
            self._sender.close()
        if self._oneshot is not None:
            self._oneshot.close()
        self._async_clients.close()

    async def aclose(self) -> None:
        if self._oneshot is not None:
            await self._oneshot.aclose()
        if self._sender is not None:
            await self._sender.aclose()
        await self._async_clients.aclose_current()
        if self._fixed_async_client is not None:
            await self._fixed_async_client.aclose()
        self.close()


def _last(frames: _Frames) -> Iterator[list[StreamEvent]]:
    """The events left in the decoder when the body ended (a batch, if any), then a
    frame it rejected after them."""
    events = frames.close()
    if events:
        yield events
    if frames.rejected is not None:
        raise frames.rejected


async def _aclose_client(client: httpx.AsyncClient) -> None:
    await client.aclose()


async def _empty() -> AsyncIterator[Any]:
    return
    yield  # pragma: no cover
