"""One object per event loop, found again without a dict lookup on the loop most
calls run on: the send deadlines' timer (``routing.deadline``) and the offload
pool's inbox (``state.offload``) each keep one per loop."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["LoopLocal"]

T = TypeVar("T")


class LoopLocal(Generic[T]):
    """``make(loop)`` on a loop's first ``get``. Keyed weakly: what ``make`` builds
    must hold its loop only weakly too, or a closed loop is never freed."""

    __slots__ = ("_items", "_last", "_lock", "_make")

    def __init__(self, make: Callable[[asyncio.AbstractEventLoop], T]) -> None:
        self._make = make
        self._items: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary())
        self._lock = threading.Lock()  # loops on other threads register too
        self._last: tuple[weakref.ref[asyncio.AbstractEventLoop], T] | None = None

    def get(self, loop: asyncio.AbstractEventLoop) -> T:
        last = self._last
        if last is not None and last[0]() is loop:
            return last[1]
        with self._lock:
            got = self._items.get(loop)
            if got is None:
                got = self._items[loop] = self._make(loop)
        self._last = (weakref.ref(loop), got)
        return got
