"""One-shot async sends over aiohttp: the transport's default for ``achat``.

Chosen on measurement (bench/, docs/benchmark.md): on this project's 2-core
benchmark machine, httpx's async pool cost ~780 µs of client CPU per call and
topped out near 830 req/s at concurrency 64, while aiohttp cost ~140 µs and
served ~11,600 req/s; behind ``Router.achat`` the switch took client CPU per
call from ~1,050 µs to ~440 µs. Streams and the sync path stay on httpx
(``transport.py``), whose streaming and sync APIs we rely on.
"""

from __future__ import annotations

import asyncio
import weakref

import aiohttp
from yarl import URL

from polyroute.providers.base import HttpRequest, HttpResponse

__all__ = ["NETWORK_ERRORS", "AiohttpSender"]


class AiohttpSender:
    """A pooled ``aiohttp.ClientSession`` per event loop (sessions are loop-bound)."""

    def __init__(self, *, limit: int, verify: bool) -> None:
        self._limit = limit
        self._verify = verify
        self._sessions: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, aiohttp.ClientSession
        ] = weakref.WeakKeyDictionary()
        self._timeouts: dict[tuple[float, float], aiohttp.ClientTimeout] = {}

    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        session = self._sessions.get(loop)
        if session is None or session.closed:
            session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._limit, ssl=self._verify),
                skip_auto_headers=("User-Agent",),
            )
            self._sessions[loop] = session
        return session

    def _timeout(self, connect: float, read: float) -> aiohttp.ClientTimeout:
        # The router enforces the call's total deadline itself (asyncio.timeout).
        key = (connect, round(read, 1))
        found = self._timeouts.get(key)
        if found is None:
            if len(self._timeouts) > 256:
                self._timeouts.clear()
            found = self._timeouts[key] = aiohttp.ClientTimeout(
                total=None, connect=connect, sock_read=key[1]
            )
        return found

    async def send(
        self, req: HttpRequest, body: bytes | None, headers: dict[str, str], *,
        connect: float, read: float,
    ) -> HttpResponse:
        """Send and read the whole body. Raises ``NETWORK_ERRORS`` on network failure."""
        # encoded=True: send the URL exactly as the provider built it (aiohttp would
        # otherwise re-quote it, e.g. unescape %3A, and break a SigV4 signature).
        async with self._session().request(
            req.method, URL(req.url, encoded=True), data=body, headers=headers,
            timeout=self._timeout(connect, read),
        ) as r:
            return HttpResponse(r.status, r.headers, await r.read())

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        session = self._sessions.pop(loop, None)
        if session is not None:
            await session.close()


NETWORK_ERRORS: tuple[type[Exception], ...] = (aiohttp.ClientError, TimeoutError)
"""What a send may raise for a network failure (mapped to ``ProviderError`` by the caller)."""
