"""Async sends and streams over aiohttp: the transport's default for ``achat`` and ``astream``.

Chosen on measurement (bench/, docs/benchmark.md): on this project's 2-core
benchmark machine, httpx's async pool cost ~780 µs of client CPU per call and
topped out near 830 req/s at concurrency 64, while aiohttp cost ~140 µs and
served ~11,600 req/s; behind ``Router.achat`` the switch took client CPU per
call from ~1,050 µs to ~440 µs. Async streams (``astream``) open here too and
read the body chunk by chunk as it arrives (``StreamReader.iter_any``), framed by
the transport's ``_Frames``. The sync path, sync streams included, stays on httpx
(``transport.py``).
"""

from __future__ import annotations

import aiohttp
from yarl import URL

from polyroute.providers.base import HttpRequest, HttpResponse
from polyroute.transport_loops import PerLoop

__all__ = ["NETWORK_ERRORS", "AiohttpSender"]


class AiohttpSender:
    """A pooled ``aiohttp.ClientSession`` per event loop (sessions are loop-bound),
    each closed by ``aclose``/``close`` or when its loop ends (``PerLoop``)."""

    def __init__(self, *, limit: int, verify: bool) -> None:
        self._limit = limit
        self._verify = verify
        self._sessions: PerLoop[aiohttp.ClientSession] = PerLoop(
            self._new_session, _close_session, lambda s: s.closed, _release_dead,
        )
        self._timeouts: dict[tuple[float, float], aiohttp.ClientTimeout] = {}

    def _new_session(self) -> aiohttp.ClientSession:
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._limit, ssl=self._verify),
            skip_auto_headers=("User-Agent",),
        )

    def _timeout(self, connect: float, read: float) -> aiohttp.ClientTimeout:
        # The router enforces the call's total deadline itself (routing.deadline.Deadline).
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
        session = self._sessions.get() or await self._sessions.get_or_open()
        async with session.request(
            req.method, URL(req.url, encoded=True), data=body, headers=headers,
            timeout=self._timeout(connect, read),
        ) as r:
            return HttpResponse(r.status, r.headers, await r.read())

    async def open(
        self, req: HttpRequest, body: bytes | None, headers: dict[str, str], *,
        connect: float, read: float,
    ) -> aiohttp.ClientResponse:
        """Send and return once the status and headers are in; the caller reads the body
        and must ``release()`` the response (an unfinished one closes its connection
        instead of going back to the pool). Raises ``NETWORK_ERRORS`` on network failure."""
        session = self._sessions.get() or await self._sessions.get_or_open()
        return await session.request(
            req.method, URL(req.url, encoded=True), data=body, headers=headers,
            timeout=self._timeout(connect, read),
        )

    async def aclose(self) -> None:
        """Close this loop's session, and every other loop's as far as it can be."""
        await self._sessions.aclose_current()

    def close(self) -> None:
        """Close every loop's session from sync code (see ``PerLoop.close``)."""
        self._sessions.close()


async def _close_session(session: aiohttp.ClientSession) -> None:
    await session.close()


def _release_dead(session: aiohttp.ClientSession) -> None:
    # Its loop is closed, so no close can run on it; closing the connector without IO
    # marks the session closed (aiohttp's own close does the same once the loop is gone).
    connector = session.connector
    if connector is not None:
        connector._close()


NETWORK_ERRORS: tuple[type[Exception], ...] = (aiohttp.ClientError, TimeoutError)
"""What a send may raise for a network failure (mapped to ``ProviderError`` by the caller)."""
