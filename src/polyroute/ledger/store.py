"""The usage ledger: one SQLite (WAL) row per call and one per attempt, failures included.

Rows are written off the request path. A call only puts a tuple on a bounded
queue; a daemon writer thread takes whatever is queued, inserts it in one
transaction and commits at once — so a row is on disk a few milliseconds after
its call ends, and a process killed between calls loses nothing. A full queue
drops rows (counted in ``dropped``) rather than slow calls down. ``flush()``
waits for the queue to drain; it runs at ``close()`` and at interpreter exit.

Only metadata is stored by default; prompts and answers only with
``store_content``. Rows older than ``retention_days`` are deleted when the
writer starts and once a day after.
"""

from __future__ import annotations

import atexit
import os
import queue
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import Any

from polyroute._sqlite import retry_locked
from polyroute.errors import ConfigError
from polyroute.logs import get_logger

__all__ = ["ATTEMPT_COLUMNS", "CALL_COLUMNS", "Ledger", "connect_ledger"]

logger = get_logger("ledger")

CALL_COLUMNS: tuple[str, ...] = (
    "id", "ts", "agent", "task", "route", "provider", "model",
    "input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens",
    "cost_usd", "cost_saved_usd", "price_known", "latency_ms", "ttft_ms", "status", "error",
    "attempts", "fallback", "cache_hit", "stream", "tags", "tenant", "prompt", "answer",
)
ATTEMPT_COLUMNS: tuple[str, ...] = (
    "call_id", "n", "ts", "provider", "model", "ok", "latency_ms", "error", "http_status",
    "action", "input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens",
    "reasoning_tokens", "cost_usd",
)
_TYPES = {
    "ts": "REAL NOT NULL", "cost_usd": "REAL", "cost_saved_usd": "REAL", "latency_ms": "REAL",
    "ttft_ms": "REAL", "id": "TEXT PRIMARY KEY",
}
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS calls ({", ".join(f"{c} {_TYPES.get(c, '')}" for c in CALL_COLUMNS)});
CREATE TABLE IF NOT EXISTS attempts (
    {", ".join(f"{c} {_TYPES.get(c, '') if c != 'id' else ''}" for c in ATTEMPT_COLUMNS)});
CREATE INDEX IF NOT EXISTS calls_ts ON calls (ts);
CREATE INDEX IF NOT EXISTS attempts_call ON attempts (call_id);
"""
_INSERT_CALL = (
    f"INSERT OR REPLACE INTO calls ({', '.join(CALL_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(CALL_COLUMNS))})"
)
_INSERT_ATTEMPT = (
    f"INSERT INTO attempts ({', '.join(ATTEMPT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(ATTEMPT_COLUMNS))})"
)
_DAY = 86400.0


def connect_ledger(path: str | os.PathLike[str], *, create: bool = True) -> sqlite3.Connection:
    """A connection to the ledger at ``path`` (WAL, schema ensured)."""
    p = Path(path)
    if create:
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    elif not p.exists():
        raise FileNotFoundError(str(p))
    conn = sqlite3.connect(str(p), timeout=30.0, isolation_level=None, check_same_thread=False)
    try:
        def setup() -> None:
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            if create:
                conn.executescript(_SCHEMA)

        retry_locked(setup, 30.0)
    except BaseException:
        conn.close()
        raise
    return conn


class Ledger:
    """Queue-fed SQLite writer. ``record(call_row, attempt_rows)`` never touches disk."""

    def __init__(self, path: str | os.PathLike[str], *, queue_size: int = 10_000,
                 retention_days: float | None = 90.0) -> None:
        self.path = Path(path)
        self.retention_days = retention_days
        self.dropped = 0
        self.written = 0
        self._queue_size = queue_size
        self._queue: queue.Queue[tuple[tuple[Any, ...], Sequence[tuple[Any, ...]]] | None] = (
            queue.Queue(queue_size)
        )
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._closed = False
        # Open once now, so an unusable path fails the router's construction with a
        # ConfigError rather than a call that has already been paid for.
        self._connect().close()
        _open_ledgers.add(self)

    def _connect(self) -> sqlite3.Connection:
        try:
            return connect_ledger(self.path)
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(
                f"cannot open the usage ledger {self.path} ({type(exc).__name__}: {exc})",
                field="ledger.path",
                fix="point ledger.path at a writable file on a local disk",
            ) from exc

    # --- request path ------------------------------------------------------------

    def record(self, call: tuple[Any, ...], attempts: Sequence[tuple[Any, ...]] = ()) -> None:
        if self._thread is None or self._pid != os.getpid():
            self._start()
        try:
            self._queue.put_nowait((call, attempts))
        except queue.Full:
            self.dropped += 1
            if self.dropped in (1, 100, 10_000):
                logger.warning("usage ledger queue full: %d rows dropped so far", self.dropped)

    # --- writer thread -----------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's thread is not ours
                self._pid = os.getpid()
                self._queue = queue.Queue(self._queue_size)
                self._thread = None
            if self._thread is None and not self._closed:
                conn = self._connect()
                self._thread = threading.Thread(
                    target=self._run, args=(conn,), name="polyroute-ledger", daemon=True
                )
                self._thread.start()

    def _run(self, conn: sqlite3.Connection) -> None:
        q = self._queue
        next_prune = 0.0
        with closing(conn):
            while True:
                if self.retention_days and time.time() >= next_prune:
                    self._prune(conn)
                    next_prune = time.time() + _DAY
                try:
                    item = q.get(timeout=60.0)
                except queue.Empty:
                    continue
                batch = [item]
                while len(batch) < 1000:
                    try:
                        batch.append(q.get_nowait())
                    except queue.Empty:
                        break
                stop = any(b is None for b in batch)
                rows = [b for b in batch if b is not None]
                try:
                    if rows:
                        self._write(conn, rows)
                except Exception as exc:
                    logger.error("usage ledger write failed (%d rows lost): %s", len(rows), exc)
                finally:
                    for _ in batch:
                        q.task_done()
                if stop:
                    return

    def _write(self, conn: sqlite3.Connection,
               rows: list[tuple[tuple[Any, ...], Sequence[tuple[Any, ...]]]]) -> None:
        calls = [r[0] for r in rows]
        attempts = [a for r in rows for a in r[1]]

        def once() -> None:
            # IMMEDIATE takes the write lock up front (waiting on the busy handler)
            # instead of failing when a deferred read upgrades under contention.
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(_INSERT_CALL, calls)
                if attempts:
                    conn.executemany(_INSERT_ATTEMPT, attempts)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

        retry_locked(once, 30.0)  # another process holding the file is no reason to lose rows
        self.written += len(rows)

    def _prune(self, conn: sqlite3.Connection) -> None:
        assert self.retention_days is not None
        cutoff = time.time() - self.retention_days * _DAY
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "DELETE FROM attempts WHERE call_id IN (SELECT id FROM calls WHERE ts < ?)",
                (cutoff,),
            )
            conn.execute("DELETE FROM calls WHERE ts < ?", (cutoff,))
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK") if conn.in_transaction else None
            logger.warning("usage ledger retention failed: %s", exc)

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

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A reading connection (after a ``flush``), for analytics."""
        self.flush()
        with closing(connect_ledger(self.path)) as conn:
            yield conn


_open_ledgers: weakref.WeakSet[Ledger] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for ledger in list(_open_ledgers):
        with suppress(Exception):
            ledger.close(timeout=5.0)
