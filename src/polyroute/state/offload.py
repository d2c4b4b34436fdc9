"""Worker threads for a store whose operations wait on I/O (SQLite, Redis).

Why threads and not only ``redis.asyncio``: what uses the store is sync code with
several operations in a row (a rate limit's token bucket reads, reserves and
settles; a breaker counts and may open). Running that block on a worker thread
keeps the event loop free whatever the store does, one thread hop per block
instead of one await per operation, and the logic stays written once.

A cancelled caller does not abandon the block half-way: it waits for the block to
finish, then sees its ``CancelledError``. So a guard's hook never runs twice at
once, and a generator advanced here is never resumed while still running.

Why not ``ThreadPoolExecutor``: a hop through it (a ``concurrent.futures.Future``,
its callback, one ``call_soon_threadsafe`` per block) cost ~20 µs of CPU, two per
routed call. Here a block is a plain object on a ``SimpleQueue``, and finished
blocks wait in one inbox per event loop that the loop empties in one callback:
64 calls finishing together wake the loop once, not 64 times. Threads start as
``ThreadPoolExecutor``'s do: one more whenever no thread is idle, up to
``workers`` (a block waiting on a paused server holds its thread, not the rest).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

from polyroute.loop_local import LoopLocal

__all__ = ["ThreadOffload"]

T = TypeVar("T")


class _Inbox:
    """Blocks finished for one loop, handed over in one callback."""

    __slots__ = ("done", "loop", "scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = weakref.ref(loop)  # the registry holds this by the loop
        self.done: deque[_Job] = deque()
        self.scheduled = False

    def post(self, job: _Job) -> None:
        """On a worker thread."""
        self.done.append(job)
        if not self.scheduled:  # a race only costs an extra, empty drain
            self.scheduled = True
            loop = self.loop()
            if loop is not None:
                with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits
                    loop.call_soon_threadsafe(self.drain)

    def drain(self) -> None:
        """On the loop."""
        self.scheduled = False
        done = self.done
        while done:
            done.popleft().deliver()


_inboxes: LoopLocal[_Inbox] = LoopLocal(_Inbox)


class _Job:
    __slots__ = ("args", "ended", "error", "finished", "fn", "fut", "inbox", "result")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...],
                 fut: asyncio.Future[Any], inbox: _Inbox) -> None:
        self.fn, self.args, self.fut, self.inbox = fn, args, fut, inbox
        self.result: Any = None
        self.error: BaseException | None = None
        self.finished = False
        self.ended: asyncio.Future[None] | None = None  # a cancelled caller waits on it

    def run(self) -> None:
        """On a worker thread (then ``post`` hands the outcome to the loop)."""
        try:
            self.result = self.fn(*self.args)
        except BaseException as exc:  # handed to the caller, raised there
            self.error = exc
        self.fn = self.args = None  # type: ignore[assignment]  # drop references early
        self.finished = True

    def deliver(self) -> None:
        """On the loop. The job lets go of what it hands over: an exception raised
        under ``run`` keeps ``run``'s frame, and so this job, alive through its
        traceback; a job still holding the outcome would make a reference cycle."""
        fut, result, error = self.fut, self.result, self.error
        self.fut = self.result = self.error = None  # type: ignore[assignment]
        if not fut.done():  # not cancelled meanwhile
            if error is not None:
                fut.set_exception(error)
            else:
                fut.set_result(result)
        ended = self.ended
        if ended is not None and not ended.done():
            ended.set_result(None)


class ThreadOffload:
    """A lazily started pool of up to ``workers`` threads named ``name``; restarted in
    a forked child (a parent's threads do not survive ``fork``)."""

    def __init__(self, name: str, workers: int) -> None:
        if workers < 1:
            raise ValueError(f"offload workers must be >= 1, got {workers}")
        self.name, self.workers = name, workers
        self._lock = threading.Lock()
        self._reset()
        self._pid = os.getpid()

    def _reset(self) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads = 0
        self._idle = 0  # threads waiting for a block no submit has counted on yet

    def _submit(self, job: _Job) -> None:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's threads are not ours
                self._reset()
                self._pid = os.getpid()
            if self._idle:
                self._idle -= 1
                spawn = False
            else:
                spawn = self._threads < self.workers
                if spawn:
                    self._threads += 1
        self._jobs.put(job)
        if spawn:
            threading.Thread(target=self._work, args=(self._jobs,),
                             name=f"{self.name}_{self._threads - 1}", daemon=True).start()

    def _work(self, jobs: queue.SimpleQueue[_Job | None]) -> None:
        while True:
            job = jobs.get()
            if job is None:
                return
            job.run()
            # idle before the caller hears of it: its next block then finds this
            # thread instead of starting another
            with self._lock:
                if self._jobs is jobs:  # not a pool closed (or forked away) meanwhile
                    self._idle += 1
            job.inbox.post(job)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on a worker thread; the loop runs other tasks meanwhile."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[T] = loop.create_future()
        job = _Job(fn, args, fut, _inboxes.get(loop))
        self._submit(job)
        try:
            return await fut
        except asyncio.CancelledError:
            # let the block finish (bounded by the store's own timeout), then leave
            while not job.finished:
                job.ended = loop.create_future()
                if job.finished:  # finished as the future was made: delivered or not
                    break
                try:
                    await job.ended
                except asyncio.CancelledError:
                    continue
            raise

    def close(self) -> None:
        """Stop the threads (blocks already handed over finish first)."""
        with self._lock:
            if self._pid != os.getpid():
                return
            jobs, threads = self._jobs, self._threads
            self._reset()
        for _ in range(threads):
            jobs.put(None)
