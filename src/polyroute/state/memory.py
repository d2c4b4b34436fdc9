"""In-process ``StateStore``: a dict under one lock. The default backend."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from polyroute.errors import StateStoreError
from polyroute.state.base import (
    Counter,
    StateStore,
    _corrupt,
    check_finite,
    encode,
    ewma_next,
    number,
)

__all__ = ["MemoryStore"]

_isfinite = math.isfinite


def _plain(v: Any) -> bool:
    """A finite int or float: what the guards store and count nearly always. These
    pass every check below, so they skip the general (allocating) validators."""
    return type(v) is int or (type(v) is float and _isfinite(v))


class MemoryStore(StateStore):
    """Thread-safe (and so task-safe) state for one process.

    ``clock`` is injectable so tests can move time without sleeping.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, tuple[Any, float | None]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def _live(self, key: str) -> Any:
        item = self._data.get(key)
        if item is None:
            return None
        value, expires = item
        if expires is not None and self._clock() >= expires:
            del self._data[key]
            return None
        return value

    def _expiry(self, ttl: float | None) -> float | None:
        return None if ttl is None else self._clock() + ttl

    def get(self, key: str) -> Any:
        with self._lock:  # _live, inlined: the guards read several keys per call
            item = self._data.get(key)
            if item is None:
                return None
            if item[1] is not None and self._clock() >= item[1]:
                del self._data[key]
                return None
            return item[0]

    peek = get  # nothing to cache in-process: every read is current

    def __repr__(self) -> str:
        return "<MemoryStore>"

    def fix(self, key: str) -> str:
        return f"store.delete({key!r}), or restart the process"

    def _number(self, key: str, value: Any) -> float:
        if value is None:
            return 0.0
        if _plain(value):
            return float(value)
        return number(value, where="(in-process)", key=key, fix=self.fix(key))

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        t = type(value)
        if not ((t is float and _isfinite(value)) or t is int):
            encode(value, where="(in-process)", key=key)  # the same values the shared stores take
        with self._lock:
            self._data[key] = (value, self._expiry(ttl))

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def incr(self, key: str, amount: float = 1.0, ttl: float | None = None) -> float:
        t = type(amount)
        if not ((t is float and _isfinite(amount)) or t is int):
            check_finite(where="(in-process)", key=key, amount=amount)
        data = self._data
        with self._lock:  # _live and _number inlined: the hot path's most called step
            item = data.get(key)
            if item is not None and item[1] is not None and self._clock() >= item[1]:
                del data[key]
                item = None
            if item is None:
                value = float(amount)
                data[key] = (value, None if ttl is None else self._clock() + ttl)
                return value
            current = item[0]
            if type(current) is float and _isfinite(current):
                value = current + amount
            else:
                value = self._number(key, current) + amount
            data[key] = (value, item[1])
            return value

    def incr_later(self, key: str, amount: float, ttl: float | None = None, *,
                   reset: bool = False,
                   then: Callable[[float, float], None] | None = None) -> None:
        if then is not None or reset:
            super().incr_later(key, amount, ttl, reset=reset, then=then)
        else:  # the base's, less its error handling, which re-raises here anyway
            self.incr(key, amount, ttl)

    def bump_all(self, counters: Sequence[Counter], *, sets: Sequence[tuple[str, Any]] = (),
                 ewma: tuple[str, float, float] | None = None) -> tuple[list[float | None], bool]:
        """The base's ``incr``/``set``/``get`` steps, same results, under one lock hold
        (health writes four to six keys on every attempt)."""
        out: list[float | None] = []
        data, clock = self._data, self._clock
        with self._lock:
            for key, amount, ttl in counters:
                t = type(amount)
                if not ((t is float and _isfinite(amount)) or t is int):
                    try:
                        check_finite(where="(in-process)", key=key, amount=amount)
                    except StateStoreError:
                        out.append(None)
                        continue
                item = data.get(key)
                if item is not None and item[1] is not None and clock() >= item[1]:
                    del data[key]
                    item = None
                if item is None:
                    value = float(amount)
                    data[key] = (value, None if ttl is None else clock() + ttl)
                else:
                    current = item[0]
                    if type(current) is float and _isfinite(current):
                        value = current + amount
                    else:
                        try:
                            value = self._number(key, current) + amount
                        except StateStoreError:  # left as it is: the caller repairs it
                            out.append(None)
                            continue
                    data[key] = (value, item[1])
                out.append(value)
            for key, v in sets:
                self._put(key, v)
            if ewma is None:
                return out, True
            key, x, alpha = ewma
            avg = ewma_next(self._live(key), x, alpha)
            if avg is None:
                return out, False
            self._put(key, avg)
            return out, True

    def reserve_sliding_many(self, items: Sequence[tuple[str, str, float, float]],
                             carry: float, ttl: float | None = None) -> list[tuple[bool, Any]]:
        """The base's ``reserve_sliding`` for each item, same results, one lock hold
        (a rate limit reserves requests and tokens on every attempt)."""
        out: list[tuple[bool, Any]] = []
        with self._lock:
            for key, prev_key, amount, limit in items:
                prev = self._live(prev_key)
                if prev is None:
                    out.append((self._reserve(key, amount, limit, ttl, 0), None))
                elif (type(prev) is float or type(prev) is int) and 0 <= prev < math.inf:
                    out.append((self._reserve(key, amount, limit - prev * carry, ttl, 0), prev))
                else:
                    out.append((False, prev))
        return out

    def reserve_sliding_leased(self, items: Sequence[tuple[str, str, float, float]],
                               carry: float, ttl: float) -> list[tuple[bool, Any]]:
        return self.reserve_sliding_many(items, carry, ttl)  # nothing to lease in-process

    def _put(self, key: str, value: Any) -> None:
        """``set`` without a TTL, the lock already held."""
        t = type(value)
        if not ((t is float and _isfinite(value)) or t is int):
            encode(value, where="(in-process)", key=key)
        self._data[key] = (value, None)

    def reserve(self, key: str, amount: float, limit: float, ttl: float | None = None, *,
                floor: float | None = None) -> bool:
        with self._lock:
            return self._reserve(key, amount, limit, ttl, floor)

    def _reserve(self, key: str, amount: float, limit: float, ttl: float | None,
                 floor: float | None) -> bool:
        """``reserve`` with the lock held (_live and _number inlined, as in incr)."""
        ta, tl = type(amount), type(limit)
        if not (((ta is float and _isfinite(amount)) or ta is int)
                and ((tl is float and _isfinite(limit)) or tl is int)):
            check_finite(where="(in-process)", key=key, amount=amount, limit=limit)
        data = self._data
        item = data.get(key)
        if item is not None and item[1] is not None and self._clock() >= item[1]:
            del data[key]
            item = None
        if item is None:
            base = 0.0
        elif type(item[0]) is float and _isfinite(item[0]):
            base = item[0]
        else:
            base = self._number(key, item[0])
        if floor is not None and base < floor:
            raise _corrupt("(in-process)", key, repr(base), self.fix(key))
        value = base + amount
        if value > limit:
            return False
        data[key] = (value, (None if ttl is None else self._clock() + ttl)
                     if item is None else item[1])
        return True

    def cas(self, key: str, expected: Any, new: Any, ttl: float | None = None) -> bool:
        if new is not None and not _plain(new):
            encode(new, where="(in-process)", key=key)
        with self._lock:
            if self._live(key) != expected:
                return False
            if new is None:
                self._data.pop(key, None)
            else:
                self._data[key] = (new, self._expiry(ttl))
            return True
