"""One-shot async sends over pyreqwest (Rust reqwest): ``Transport(async_http="pyreqwest")``.

An optional transport (``pip install polyroute[pyreqwest]``), chosen on measurement
(docs/benchmark.md, "Transport choice"): the fastest raw async client in the
benchmark. One client serves every event loop (its connection pool lives in the
Rust runtime, not in a loop). Streams stay on aiohttp (the default's), so a stream
behaves the same whichever one-shot client is chosen.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pyreqwest.client import ClientBuilder
from pyreqwest.exceptions import PyreqwestError

from polyroute.providers.base import HttpRequest, HttpResponse

__all__ = ["NETWORK_ERRORS", "PyreqwestSender"]


class PyreqwestSender:
    """A pooled pyreqwest client, built on first use. Its timeouts are a
    ``RequestTimeoutError`` (a ``TimeoutError``), its network failures a
    ``PyreqwestError``: both mapped to typed ``ProviderError``s by the transport."""

    def __init__(self, *, limit: int, verify: bool) -> None:
        self._limit = limit
        self._verify = verify
        self._client: Any = None
        self._timeouts: dict[tuple[float, float], timedelta] = {}

    def _build(self) -> Any:
        builder = ClientBuilder().max_connections(self._limit)
        if not self._verify:
            builder = builder.danger_accept_invalid_certs(True)
        self._client = builder.build()
        return self._client

    async def send(
        self, req: HttpRequest, body: bytes | None, headers: dict[str, str], *,
        connect: float, read: float,
    ) -> HttpResponse:
        """Send and read the whole body. Raises ``NETWORK_ERRORS`` on network failure."""
        client = self._client or self._build()
        builder = client.request(req.method, req.url).headers(headers)
        if body is not None:
            builder = builder.body_bytes(body)
        # reqwest bounds the whole request; the router bounds the call (routing.deadline.Deadline)
        response = await builder.timeout(timedelta(seconds=connect + read)).build().send()
        content = bytes(await response.bytes())
        return HttpResponse(response.status, dict(response.headers.items()), content)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    def close(self) -> None:
        """From sync code: let go of the client; its pool closes when the Rust side
        drops it (its ``close`` must be awaited, and no loop may be running here)."""
        self._client = None


NETWORK_ERRORS: tuple[type[Exception], ...] = (PyreqwestError, TimeoutError)
"""What a send may raise for a network failure (mapped to ``ProviderError`` by the caller)."""
