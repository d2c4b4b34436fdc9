"""What the SQLite and PostgreSQL ledgers share: the queue and its writer-thread state,
counted drops (warned about at most every few seconds per reason, kept for
``ledger_drops``), ``flush``/``close``, and closing every open ledger at exit.

Each backend keeps its own connection handling, transaction and ``_run`` loop; the
SQL placeholder (``param``) is the only difference in the drop rows they write.
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
import time
import weakref
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from polyroute.logs import get_logger

__all__ = ["LINGER", "QueuedLedger"]

logger = get_logger("ledger")
_WARN_EVERY = 10.0  # seconds between two warnings about the same kind of drop
LINGER = 0.02
"""Seconds a writer waits after a row for more before committing them together. One
transaction per 15 rows (5 ms at ~3,000 calls/s) cost the SQLite writer ~30 µs per
call; per 60 rows, ~20 (bench: c=64 instant-ish server, docs/benchmark.md)."""
Item = tuple[tuple[Any, ...], Sequence[tuple[Any, ...]]]


class QueuedLedger:
    param = "?"
    """The driver's SQL placeholder."""
    path: Any
    """What logs and errors name (never a password)."""

    def _init_queue(self, *, queue_size: int, retention_days: float | None,
                    sync: bool) -> None:
        self.retention_days = retention_days
        self.sync = sync
        self.dropped = 0
        """Rows lost, whatever the reason (also logged and kept in ``ledger_drops``)."""
        self.nulled = 0
        """Rows stored with values the database could not hold set to NULL."""
        self.written = 0
        self._queue_size = queue_size
        self._queue: queue.Queue[Item | None] = queue.Queue(queue_size)
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._drop_lock = threading.Lock()
        self._unreported: dict[str, int] = {}
        self._warned: dict[str, float] = {}
        self._sync_conn: Any = None
        self._sync_lock = threading.Lock()
        self._closed = False

    def _opened(self) -> None:
        """The ledger works: close it (flushing its queue) at interpreter exit."""
        _open_ledgers.add(self)

    def _write(self, conn: Any, rows: list[Item]) -> None:
        raise NotImplementedError  # pragma: no cover

    # --- drops ---------------------------------------------------------------------

    def _drop(self, n: int, reason: str) -> None:
        """Count ``n`` lost rows, warn (at most every few seconds per reason) and keep
        them for ``ledger_drops``."""
        with self._drop_lock:
            self.dropped += n
            self._unreported[reason] = self._unreported.get(reason, 0) + n
            now = time.monotonic()
            warn = now - self._warned.get(reason, -_WARN_EVERY) >= _WARN_EVERY
            if warn:
                self._warned[reason] = now
            total = self.dropped
        if warn:
            logger.warning("usage ledger %s: %d row(s) lost (%d so far) — %s", self.path, n,
                           total, reason)

    def _report_drops(self, cursor: Any) -> None:
        """Inside the writer's transaction: move counted drops into ``ledger_drops``."""
        with self._drop_lock:
            pending, self._unreported = self._unreported, {}
        if not pending:
            return
        p = self.param
        try:
            now = time.time()
            cursor.executemany(
                f"INSERT INTO ledger_drops (ts, rows, reason) VALUES ({p}, {p}, {p})",
                [(now, n, r) for r, n in pending.items()])
        except BaseException:
            with self._drop_lock:  # the transaction will roll back: keep them for next time
                for r, n in pending.items():
                    self._unreported[r] = self._unreported.get(r, 0) + n
            raise

    # --- lifecycle -----------------------------------------------------------------

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued row is committed; ``False`` on timeout."""
        if self._thread is None:
            return True
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() >= deadline or not self._thread.is_alive():
                return False
            time.sleep(0.001)
        return True

    def close(self, timeout: float = 10.0) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        if thread is not None and self._pid == os.getpid() and thread.is_alive():
            self._queue.put(None)
            thread.join(timeout)
        with self._sync_lock:
            if self._sync_conn is not None:
                if self._unreported:
                    with suppress(Exception):
                        self._write(self._sync_conn, [])
                with suppress(Exception):
                    self._sync_conn.close()
                self._sync_conn = None


_open_ledgers: weakref.WeakSet[QueuedLedger] = weakref.WeakSet()


def take_batch(q: queue.Queue[Any], first: Any, limit: int = 1000
               ) -> tuple[list[Any], bool, int]:
    """``first`` and whatever else is queued (up to ``limit``): the rows, whether a
    stop marker (``None``) was among them, and how many items were taken (each owes
    the queue a ``task_done``)."""
    batch = [first]
    while len(batch) < limit:
        try:
            batch.append(q.get_nowait())
        except queue.Empty:
            break
    return [b for b in batch if b is not None], any(b is None for b in batch), len(batch)


@atexit.register
def _close_all() -> None:
    for ledger in list(_open_ledgers):
        with suppress(Exception):
            ledger.close(timeout=5.0)
