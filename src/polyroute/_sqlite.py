"""SQLite lock contention, retried: shared by the state store and the usage ledger.

SQLite can answer ``database is locked`` without waiting on its busy handler
(a connection opening while the last one closes, WAL recovery, a deferred
transaction upgrading to a write), so callers retry lock contention with a
short growing pause, up to a deadline.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def is_lock_contention(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def retry_locked(fn: Callable[[], T], timeout: float) -> T:
    """``fn()``, retried while SQLite reports lock contention, for up to ``timeout`` s;
    the last error is raised once the time is up (other errors at once)."""
    deadline = time.monotonic() + timeout
    pause = 0.001
    while True:
        try:
            return fn()
        except sqlite3.OperationalError as exc:
            if not is_lock_contention(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
