"""Writes nobody waits for, held briefly and sent together (a networked store).

Most of what a routed call writes to shared state is settled after the answer and
read by no one on the request path: a reservation settled to the real cost, a
success counted by the breaker, a health sample. Sent one by one they are a round
trip each (most of what a Redis-backed call used to cost). Held here instead,
they go to the server

- with the next operation of this process that touches the same key, in the same
  round trip and before it, so this process always reads its own writes in order;
- or, for keys nothing touches, within ``delay`` seconds, merged per key: a
  thousand ``+1`` on one counter are one ``+1000`` (LiteLLM's router batches its
  Redis counters the same way), in one script call;
- or when the store closes.

Per key the queue keeps at most a reset (``set``/``delete``) followed by one
``incr`` or one moving-average fold: later ops fold into earlier ones, so memory
is bounded by the number of keys, whatever the call rate. A process killed in
between loses at most ``delay`` seconds of these writes: settled refunds (a
budget then reads as more spent, never less) and advisory samples.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["Op", "WriteBehind"]

logger = logging.getLogger("polyroute.state")

Op = list[Any]
"""``["i", amount, ttl, reset, then]`` incr (``reset``: a corrupt value starts over
at ``amount``; ``then``: callbacks told ``(before, after)``), ``["e", c, m, start]``
moving-average fold ``v = c + m * v`` (``start`` where absent), ``["s", value, ttl]``
set, ``["d"]`` delete, ``["g", amount]`` give back (decrement, never below 0 nor onto
an absent key)."""

_MAX_KEYS = 10_000  # more keys pending than this: flush at once, in the caller


def _merge(ops: list[Op], op: Op) -> None:
    """Fold ``op`` into one key's pending ``ops``."""
    kind = op[0]
    if kind in ("s", "d"):  # a reset makes whatever came before moot
        ops[:] = [op]
        return
    last = ops[-1] if ops else None
    if last is not None and last[0] == kind == "i":
        last[1] += op[1]
        last[2] = last[2] if last[2] is not None else op[2]
        last[3] = last[3] or op[3]
        last[4] += op[4]
    elif last is not None and last[0] == kind == "g":
        last[1] += op[1]
    elif last is not None and last[0] == kind == "e":
        c, m = op[1], op[2]  # ``last`` first, then ``op``
        last[1], last[2], last[3] = c + m * last[1], m * last[2], c + m * last[3]
    else:
        ops.append(op)


def _pid() -> int:
    return _PID[0]


def _new_pid() -> None:
    _PID[0] = os.getpid()


_PID = [os.getpid()]  # os.getpid() is a system call: kept, and renewed in a forked child
os.register_at_fork(after_in_child=_new_pid)


def _flush_at_exit(ref: weakref.ref[WriteBehind]) -> None:
    held = ref()
    if held is not None:
        held.flush()


class WriteBehind:
    """Pending writes per key, and a thread that sends them ``delay`` seconds after
    the first one (``send``: the store's; it never raises)."""

    def __init__(self, delay: float, send: Callable[[list[tuple[str, Op]]], None]) -> None:
        self.delay = delay
        self._send = send
        self._pending: dict[str, list[Op]] = {}
        self._lock = threading.Lock()
        self._due = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._closed = False
        # a process that ends without closing its store still sends what it holds
        atexit.register(_flush_at_exit, weakref.ref(self))

    def __bool__(self) -> bool:
        return bool(self._pending)

    def add(self, key: str, op: Op) -> None:
        """Hold ``op`` on (store) ``key``."""
        with self._lock:
            self._forked()
            pending = self._pending
            first = not pending
            ops = pending.get(key)
            if ops is None:
                pending[key] = [op]
            else:
                _merge(ops, op)
            crowded = len(pending) > _MAX_KEYS or self._closed
            if first and not crowded:  # the thread waits only on an empty queue
                self._start()
                self._due.notify()
        if crowded:
            self.flush()

    def take(self, keys: Iterable[str] | None = None) -> list[tuple[str, Op]]:
        """Remove and return the pending ops, in order: all, or those on ``keys``."""
        with self._lock:
            self._forked()
            pending = self._pending
            if not pending:
                return []
            if keys is None:
                self._pending = {}
                return [(k, op) for k, ops in pending.items() for op in ops]
            out: list[tuple[str, Op]] = []
            for k in keys:
                ops = pending.pop(k, None)
                if ops:
                    out += [(k, op) for op in ops]
            return out

    def flush(self) -> None:
        """Send everything pending now."""
        ops = self.take()
        if ops:
            self._send(ops)

    def close(self) -> None:
        """Send what is pending and stop the thread."""
        with self._lock:
            self._closed = True
            self._due.notify()
        self.flush()

    # --- the thread --------------------------------------------------------------------

    def _forked(self) -> None:
        # a forked child must not send its parent's writes a second time
        if self._pid != _pid():
            self._pid, self._pending, self._thread = os.getpid(), {}, None

    def _start(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._run, name="polyroute-write-behind",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        me = threading.current_thread()
        while True:
            with self._lock:
                while not self._pending and not self._closed and self._thread is me:
                    self._due.wait()
                if self._closed or self._thread is not me:
                    return
            time.sleep(self.delay)  # let writes gather; what comes meanwhile rides along
            try:
                self.flush()
            except Exception:  # the thread must survive whatever a send does
                logger.exception("state store: sending held writes failed")
