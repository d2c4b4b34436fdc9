"""``SQLiteStore``: a ``StateStore`` shared by every process on one host.

One file in WAL mode. ``incr`` and ``reserve`` run inside ``BEGIN IMMEDIATE``,
which takes SQLite's write lock before reading, so check-and-add is atomic
across threads and processes; readers never block writers. Each thread gets its
own connection (and a forked child its own, too). Expiry uses wall-clock time
(``time.time``) so every process agrees on it. Values are JSON text, never pickle.

Async callers get the same operations on worker threads of the store's own
(``offload``), each with its own connection: the event loop never waits on the
file lock or the disk.

Every operation retries lock contention for up to ``timeout`` seconds (see
``polyroute._sqlite``); anything else, or contention past the timeout, raises
``StateStoreError`` naming the file and the operation.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from polyroute._sqlite import retry_locked
from polyroute.errors import StateStoreError, StateStoreUnavailable
from polyroute.state.base import StateStore, _corrupt, check_finite, decode, encode, number
from polyroute.state.offload import ThreadOffload

T = TypeVar("T")

__all__ = ["SQLiteStore"]

_SCHEMA = "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires REAL)"


class SQLiteStore(StateStore):
    """State in one SQLite file; atomic across processes on this host."""

    inline = False

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0,
                 clock: Callable[[], float] = time.time, workers: int = 8) -> None:
        # writers serialise on the file lock anyway: a few threads keep readers going
        self._threads = ThreadOffload("polyroute-sqlite", workers)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._timeout = timeout
        self._clock = clock
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

        def setup() -> None:
            conn = self._conn()
            # WAL persists in the file: set once here, not on every thread's connection.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)

        self._retrying("open", setup)

    def _retrying(self, op: str, fn: Callable[[], T]) -> T:
        try:
            return retry_locked(fn, self._timeout)
        except sqlite3.Error as exc:
            raise self._error(op, exc) from exc

    def _error(self, op: str, exc: sqlite3.Error) -> StateStoreError:
        return StateStoreUnavailable(
            f"state store {self.path}: {op} failed ({type(exc).__name__}: {exc}); "
            "check the file is writable and on a local disk (SQLite locking does not "
            "hold on network filesystems), or set state.path to another file"
        )

    def _conn(self) -> sqlite3.Connection:
        local = self._local
        conn: sqlite3.Connection | None = getattr(local, "conn", None)
        if conn is None or local.pid != os.getpid():
            conn = sqlite3.connect(str(self.path), timeout=self._timeout, isolation_level=None,
                                   check_same_thread=False)
            try:
                conn.execute(f"PRAGMA busy_timeout={int(self._timeout * 1000)}")
                conn.execute("PRAGMA synchronous=NORMAL")
            except BaseException:
                conn.close()
                raise
            local.conn, local.pid = conn, os.getpid()
            with self._lock:
                self._all.append(conn)
        return conn

    def _read(self, conn: sqlite3.Connection, key: str, now: float) -> tuple[Any, float | None]:
        row = conn.execute("SELECT value, expires FROM kv WHERE key = ?", (key,)).fetchone()
        if row is None or (row[1] is not None and now >= row[1]):
            return None, None
        return decode(row[0], where=str(self.path), key=key, fix=self.fix(key)), row[1]

    def fix(self, key: str) -> str:
        quoted = key.replace("'", "''")
        return f"sqlite3 {self.path} \"DELETE FROM kv WHERE key = '{quoted}'\""

    def get(self, key: str) -> Any:
        return self._retrying("get", lambda: self._read(self._conn(), key, self._clock())[0])

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        expires = None if ttl is None else self._clock() + ttl
        text = encode(value, where=str(self.path), key=key)
        self._retrying("set", lambda: self._conn().execute(
            "INSERT OR REPLACE INTO kv (key, value, expires) VALUES (?, ?, ?)",
            (key, text, expires),
        ))

    def delete(self, key: str) -> None:
        self._retrying("delete", lambda: self._conn().execute(
            "DELETE FROM kv WHERE key = ?", (key,)))

    def _add(self, key: str, amount: float, limit: float | None, ttl: float | None,
             floor: float | None = None) -> tuple[bool, float]:
        check_finite(where=str(self.path), key=key, amount=amount,
                     **({} if limit is None else {"limit": limit}))
        return self._retrying("reserve" if limit is not None else "incr",
                              lambda: self._add_once(key, amount, limit, ttl, floor))

    def _add_once(self, key: str, amount: float, limit: float | None, ttl: float | None,
                  floor: float | None) -> tuple[bool, float]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            now = self._clock()
            current, expires = self._read(conn, key, now)
            if current is None:
                expires = None if ttl is None else now + ttl
            base = number(current, where=str(self.path), key=key, fix=self.fix(key))
            if floor is not None and base < floor:
                raise _corrupt(str(self.path), key, repr(base), self.fix(key))
            value = base + amount
            if limit is not None and value > limit:
                conn.execute("COMMIT")
                return False, value - amount
            conn.execute(
                "INSERT OR REPLACE INTO kv (key, value, expires) VALUES (?, ?, ?)",
                (key, encode(value, where=str(self.path), key=key), expires),
            )
            conn.execute("COMMIT")
            return True, value
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def incr(self, key: str, amount: float = 1.0, ttl: float | None = None) -> float:
        return self._add(key, amount, None, ttl)[1]

    def reserve(self, key: str, amount: float, limit: float, ttl: float | None = None, *,
                floor: float | None = None) -> bool:
        return self._add(key, amount, limit, ttl, floor)[0]

    def cas(self, key: str, expected: Any, new: Any, ttl: float | None = None) -> bool:
        text = None if new is None else encode(new, where=str(self.path), key=key)
        return self._retrying("cas", lambda: self._cas_once(key, expected, text, ttl))

    def _cas_once(self, key: str, expected: Any, text: str | None, ttl: float | None) -> bool:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")  # the write lock before the read: compare and set
        try:
            now = self._clock()
            if self._read(conn, key, now)[0] != expected:
                conn.execute("COMMIT")
                return False
            if text is None:
                conn.execute("DELETE FROM kv WHERE key = ?", (key,))
            else:
                conn.execute("INSERT OR REPLACE INTO kv (key, value, expires) VALUES (?, ?, ?)",
                             (key, text, None if ttl is None else now + ttl))
            conn.execute("COMMIT")
            return True
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def purge_expired(self) -> int:
        """Delete expired keys (reads already ignore them); returns how many."""
        return self._retrying("purge", lambda: self._conn().execute(
            "DELETE FROM kv WHERE expires IS NOT NULL AND expires <= ?", (self._clock(),)
        ).rowcount)

    async def offload(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._threads.run(fn, *args)

    def close(self) -> None:
        self._threads.close()
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"<SQLiteStore {str(self.path)!r}>"
