"""Loop-bound connection pools (an aiohttp session, an httpx ``AsyncClient``), one per
event loop, each closed exactly once: by ``aclose()`` on its loop, by ``close()``
from sync code, or — at the latest — when its loop shuts down.

The loop-end close rides on ``loop.shutdown_asyncgens()``, which ``asyncio.run``,
``asyncio.Runner`` and pytest-asyncio call before closing a loop: each pool is
watched by a suspended async generator whose ``finally`` closes it. So a model used
from two ``asyncio.run()`` calls leaves no "Unclosed client session" behind, even if
nobody calls ``close()``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Generic, TypeVar

from polyroute.logs import get_logger

__all__ = ["PerLoop"]

logger = get_logger("transport")

T = TypeVar("T")


async def _watch(close: Callable[[], Awaitable[None]]) -> AsyncGenerator[None, None]:
    try:
        yield
    finally:
        await close()


class PerLoop(Generic[T]):
    """``{event loop: pool}``; ``open`` makes a pool, ``aclose_one`` closes one."""

    def __init__(
        self, open: Callable[[], T], aclose_one: Callable[[T], Awaitable[None]],
        is_closed: Callable[[T], bool], close_dead: Callable[[T], None] = lambda pool: None,
    ) -> None:
        """``close_dead``: release a pool whose loop is already closed (no IO possible)."""
        self._open = open
        self._aclose_one = aclose_one
        self._is_closed = is_closed
        self._close_dead = close_dead
        # Strong references: a pool must be closed, never just dropped with its loop.
        self._pools: dict[asyncio.AbstractEventLoop, tuple[T, AsyncGenerator[None, None]]] = {}
        self._lock = threading.Lock()

    def get(self) -> T | None:
        """The running loop's open pool, if any (the hot path: one dict lookup)."""
        found = self._pools.get(asyncio.get_running_loop())
        if found is None or self._is_closed(found[0]):
            return None
        return found[0]

    async def get_or_open(self) -> T:
        pool = self.get()
        if pool is not None:
            return pool
        loop = asyncio.get_running_loop()
        pool = self._open()
        watcher = _watch(lambda: self._aclose_one(pool))
        with self._lock:
            # loops that ended, their pools closed: forget them
            for old in [lp for lp, (p, _) in self._pools.items() if lp.is_closed()
                        and self._is_closed(p)]:
                del self._pools[old]
            self._pools[loop] = (pool, watcher)
        await watcher.__anext__()  # registers with the loop's shutdown_asyncgens
        return pool

    async def aclose_current(self) -> None:
        """Close the running loop's pool (awaited), then every other loop's (``close``)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            found = self._pools.pop(loop, None)
        if found is not None:
            await found[1].aclose()
        self.close()

    def close(self) -> None:
        """Close every pool from sync code, as far as its loop allows: an idle loop runs
        the close now; a loop running in another thread runs it soon; when called from
        a coroutine (a loop runs in this thread) the rest close when their loops end or
        at the next ``close``; a loop already closed cannot run it, so its pool is
        released without IO (``close_dead``)."""
        with self._lock:
            pools, self._pools = self._pools, {}
        try:
            current: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        for loop, (pool, watcher) in pools.items():
            if self._is_closed(pool):
                continue
            if loop.is_closed():
                self._close_dead(pool)
                logger.debug("released a pool whose event loop had already ended")
            elif loop.is_running() and loop is not current:
                asyncio.run_coroutine_threadsafe(_end(watcher), loop)
            elif loop is current or current is not None:
                # we cannot block here: its loop's end (or a later close) closes it
                with self._lock:
                    self._pools[loop] = (pool, watcher)
            else:
                loop.run_until_complete(_end(watcher))


async def _end(watcher: AsyncGenerator[None, None]) -> None:
    await watcher.aclose()
