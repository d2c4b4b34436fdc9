"""A call's total deadline around an awaited send: ``asyncio.timeout``, cheaper.

``asyncio.timeout`` arms a timer handle for every send and cancels it after, and
the loop then clears the cancelled handle from its heap: ~11 µs of CPU per call
in situ, the largest piece of the router's own work after the ledger (an
ablation of ``Router.achat`` over an instant transport, docs/benchmark.md).

Here each event loop keeps one timer for all its sends. A send is a dict entry,
added on entry and removed on exit; the timer is armed at the earliest deadline
and moved only when a send comes with an earlier one. Nearly every call has the
same total (600 s by default), so deadlines come in order and the timer stays
where it is. When it fires it expires every send past its deadline and re-arms
at the earliest left: a scan of the sends in flight, once per deadline reached.
Expiry cancels the task and turns that cancellation into ``TimeoutError`` on exit
as ``asyncio.timeout`` does (the task's cancel count is taken on entry, so a
cancellation from outside still propagates as one).
"""

from __future__ import annotations

import asyncio
import weakref
from types import TracebackType

from polyroute.loop_local import LoopLocal

__all__ = ["Deadline"]


class _Sends:
    """One loop's sends in flight, and when its timer fires."""

    __slots__ = ("armed", "loop", "pending")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        # Weak, and no timer handle kept (a handle holds its loop): the registry below
        # holds this by the loop, and must not keep a closed loop alive.
        self.loop = weakref.ref(loop)
        self.pending: dict[Deadline, None] = {}
        self.armed = float("inf")

    def add(self, d: Deadline, loop: asyncio.AbstractEventLoop) -> None:
        self.pending[d] = None
        if d.when < self.armed:  # the timer armed for later goes stale: _fire skips it
            self.armed = d.when
            loop.call_at(d.when, self._fire, d.when)

    def _fire(self, when: float) -> None:
        loop = self.loop()
        if when != self.armed or loop is None:
            return  # a timer an earlier deadline replaced
        self.armed = float("inf")
        now = loop.time()
        late = [d for d in self.pending if d.when <= now]
        for d in late:
            del self.pending[d]
            d.expire()
        if self.pending:
            self.armed = first = min(d.when for d in self.pending)
            loop.call_at(first, self._fire, first)


_per_loop: LoopLocal[_Sends] = LoopLocal(_Sends)


class Deadline:
    """``async with Deadline(seconds):`` raises ``TimeoutError`` once ``seconds`` have
    passed (``None``: no deadline), as ``asyncio.timeout`` does. The hot path calls
    ``Deadline.start`` and ``done`` itself: no context-manager coroutines."""

    __slots__ = ("_cancelling", "_delay", "_expired", "_sends", "_task", "when")

    def __init__(self, delay: float | None) -> None:
        self._delay = delay
        self._sends: _Sends | None = None

    @classmethod
    def start(cls, delay: float | None) -> Deadline | None:
        """A running deadline for the current task (``None`` for no deadline)."""
        if delay is None:
            return None
        d = cls(delay)
        d._begin()
        return d

    def _begin(self) -> None:
        assert self._delay is not None
        loop = asyncio.get_running_loop()
        task = asyncio.current_task(loop)
        if task is None:
            raise RuntimeError("Deadline must be used inside a task")
        self._task, self._expired = task, False
        self._cancelling = task.cancelling()
        self.when = loop.time() + self._delay
        self._sends = _per_loop.get(loop)
        self._sends.add(self, loop)

    def done(self, exc_type: type[BaseException] | None) -> bool:
        """Stop it; ``True`` when it expired and the ``CancelledError`` leaving the
        block is its own (raise ``TimeoutError`` then)."""
        sends = self._sends
        if sends is None:
            return False
        self._sends = None
        sends.pending.pop(self, None)
        return self._expired and self._task.uncancel() <= self._cancelling and \
            exc_type is asyncio.CancelledError

    async def __aenter__(self) -> Deadline:
        if self._delay is not None:
            self._begin()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.done(exc_type):
            raise TimeoutError from exc

    def expire(self) -> None:
        self._expired = True
        self._task.cancel()
