"""The usage ledger's call ids: 24 hex digits that grow with time.

The first 12 digits are the time in milliseconds and the last 12 are 48 random
bits, as in UUIDv7. The ledger's primary-key index then takes each new row
at its right edge instead of on a random page: the SQLite writer dirties a
few pages per batch instead of one per row (~25 % less CPU per row,
bench/components.py). Two ids made in the same millisecond differ by chance
alone: a collision needs ~16 million calls in that one millisecond.

The random bits come from ``os.urandom`` (ids are handed to callers, so they
must not be predictable from one another), read 4 KiB at a time: each
``os.urandom`` call releases the GIL around its system call, and at one per
call the ledger writer took the GIL there and the call waited for it back
(~19 µs a call in a profile of bench/components.py's instant-transport run).
A forked child drops the bytes it inherited, so two workers never hand out the
same ids.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["new_call_id"]

_CHUNK = 4096
_ID_BYTES = 6
_lock = threading.Lock()
_pool = b""
_at = 0


def _forget() -> None:
    global _pool, _at, _lock
    _pool, _at, _lock = b"", 0, threading.Lock()  # a lock held at fork would stay held


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget)


def _random_hex() -> str:
    global _pool, _at
    with _lock:
        if _at + _ID_BYTES > len(_pool):
            _pool, _at = os.urandom(_CHUNK), 0
        at = _at
        _at = at + _ID_BYTES
        return _pool[at:at + _ID_BYTES].hex()


def new_call_id() -> str:
    return f"{time.time_ns() // 1_000_000:012x}{_random_hex()}"
