"""The ``StateStore`` seam: every piece of shared router state goes through it.

Breaker states, rate-limit windows, health samples, budget reservations and
cache entries are stored here, so one process, many processes on one host
(SQLite) or many hosts (Redis) share them by swapping the backend, without
touching the code that uses them.

Operations are few and atomic: a backend must make ``incr`` and ``reserve``
safe under concurrency (threads, tasks and — for the shared backends —
processes). Values are JSON-serialisable; keys are plain strings namespaced by
their user (``breaker:openai/gpt-4.1``, ``budget:provider:openai:2026-11-23``).

Two faces. The sync one (``get``, ``incr``…) is for sync callers. The async one
(``aget``, ``aincr``…) never blocks the event loop: the memory store answers inline
(a dict under a lock: nothing to wait for), SQLite runs the operation on a thread
of its own, Redis awaits ``redis.asyncio``. ``inline`` says which kind a store is;
``offload`` runs a block of sync code that uses the store (a guard's hook, a step
of a routed call) where it cannot stall the loop: inline for the memory store, on
a worker thread for the others.
"""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from polyroute.errors import StateStoreError, StateStoreUnavailable

__all__ = ["Counter", "StateStore", "check_finite", "decode", "encode", "number"]

T = TypeVar("T")
Counter = tuple[str, float, float | None]
"""(key, amount, ttl) of one ``incr`` in ``bump_all``."""


def _corrupt(where: str, key: str, found: str, fix: str) -> StateStoreError:
    shown = found if len(found) <= 60 else found[:57] + "..."
    return StateStoreError(
        f"state store {where}: key '{key}' holds {shown!r}, which is not a value polyroute "
        "wrote; a budget or limit cannot be checked against it, so the call is refused "
        f"(fail closed). Delete the key to reset that counter: {fix}"
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode(text: str | bytes, *, where: str, key: str, fix: str) -> Any:
    """JSON ``text`` read from a store; ``NaN``/``Infinity`` (which Python's json would
    accept) and anything undecodable are a ``StateStoreError`` naming ``key``."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError):
        raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
        raise _corrupt(where, key, raw, fix) from None


def encode(value: Any, *, where: str, key: str) -> str:
    """``value`` as strict JSON: a non-finite number is refused, never stored."""
    try:
        return json.dumps(value, allow_nan=False)
    except (ValueError, TypeError) as exc:
        raise StateStoreError(
            f"state store {where}: refused to store {value!r} at key '{key}' ({exc}); "
            "only finite numbers and JSON values are stored"
        ) from None


def number(value: Any, *, where: str, key: str, fix: str) -> float:
    """``value`` (``None`` reads as 0) as a finite float, or a ``StateStoreError``."""
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _corrupt(where, key, json.dumps(value) if _jsonable(value) else repr(value), fix)
    return float(value)


def ewma_next(prev: Any, x: float, alpha: float) -> float | None:
    """The moving average once ``x`` is folded into ``prev`` (absent: it starts at
    ``x``); ``None`` when ``prev`` is not a non-negative number (left as it is)."""
    if prev is None:
        return x
    if (type(prev) is float or type(prev) is int) and 0 <= prev < math.inf:
        return alpha * x + (1 - alpha) * prev
    return None


def check_finite(*, where: str, key: str, **values: float) -> None:
    """Refuse a non-finite ``amount``/``limit``: NaN compares false with everything, so
    it would pass a limit check and poison the counter."""
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise StateStoreError(
                f"state store {where}: refused {name} {v!r} for key '{key}'; "
                "amounts and limits must be finite numbers"
            )


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


class StateStore(ABC):
    """Shared, atomic key-value state with optional time-to-live (seconds)."""

    inline: bool = True
    """Operations finish without waiting on I/O (the memory store): the async face
    and ``offload`` call them directly. ``False``: a file or a server is behind them,
    so async callers must not run them on the event loop."""

    holds_writes: bool = False
    """``*_later`` writes are held and sent together (``state/write_behind.py``); else
    they are done at once, and their errors raised, as the plain operations'."""

    @abstractmethod
    def get(self, key: str) -> Any:
        """The value at ``key``, or ``None`` if absent or expired."""

    @abstractmethod
    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` (JSON-serialisable) at ``key``."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""

    @abstractmethod
    def incr(self, key: str, amount: float = 1.0, ttl: float | None = None) -> float:
        """Atomically add ``amount`` to a numeric value (absent counts as 0); return the
        new value. ``ttl`` applies when the key is created."""

    @abstractmethod
    def reserve(self, key: str, amount: float, limit: float, ttl: float | None = None, *,
                floor: float | None = None) -> bool:
        """Atomically add ``amount`` only if the result stays ``<= limit``.

        Returns whether it was added. This is what makes budgets and token
        limits hold under concurrency: check and add are one step. A current
        value below ``floor`` (a budget counter is never negative) is corrupt:
        ``StateStoreError``, nothing added.
        """

    def cas(self, key: str, expected: Any, new: Any, ttl: float | None = None) -> bool:
        """Compare-and-set: atomically replace the value at ``key`` with ``new``
        (``None``: delete the key) only if it still equals ``expected`` (``None``: the
        key is absent). Returns whether it did. This is what makes a state machine's
        transitions (a circuit opening, a half-open probe admitted) happen once across
        processes: read, decide, ``cas``; on ``False`` someone else moved first, so read
        again. ``expected`` is a value read from this store, compared as JSON.

        The default raises: a backend that cannot do it atomically must not pretend."""
        raise NotImplementedError(f"{type(self).__name__} has no atomic compare-and-set")

    def bump_all(self, counters: Sequence[Counter], *, sets: Sequence[tuple[str, Any]] = (),
                 ewma: tuple[str, float, float] | None = None) -> tuple[list[float | None], bool]:
        """Several writes of one event to advisory data (health samples) as one step:
        ``incr`` each counter, ``set`` each ``(key, value)`` of ``sets`` (no TTL), then
        fold ``x`` into the moving average ``ewma = (key, x, alpha)`` (absent: it starts
        at ``x``). Returns each counter's new value, ``None`` where the stored value was
        not a number (left as it was: the caller warns and resets it), and whether the
        average was folded (``False``: its stored value was not a non-negative number,
        left as it was). Not a transaction: a networked store does it in one round trip
        instead of one per write (RedisStore: one script). A dead store raises
        ``StateStoreUnavailable``."""
        out: list[float | None] = []
        for key, amount, ttl in counters:
            try:
                out.append(self.incr(key, amount, ttl))
            except StateStoreUnavailable:
                raise
            except StateStoreError:
                out.append(None)
        for key, value in sets:
            self.set(key, value)
        if ewma is None:
            return out, True
        key, x, alpha = ewma
        try:
            prev = self.get(key)
        except StateStoreUnavailable:
            raise
        except StateStoreError:  # undecodable text
            return out, False
        avg = ewma_next(prev, x, alpha)
        if avg is None:
            return out, False
        self.set(key, avg)
        return out, True

    def reserve_sliding(self, key: str, prev_key: str, amount: float, limit: float,
                        carry: float, ttl: float | None = None) -> tuple[bool, Any]:
        """A sliding-window reservation: read the previous window's count at
        ``prev_key``; if it is a non-negative number, ``reserve(key, amount, limit -
        prev * carry, ttl, floor=0)``. Returns (reserved, the value read at
        ``prev_key``): anything but a non-negative number reserves nothing, and the
        caller refuses it as corrupt. A networked store does it in one round trip
        (RedisStore: one script, so the read and the reservation are one step)."""
        prev = self.get(prev_key)
        if prev is None:
            return self.reserve(key, amount, limit, ttl, floor=0), None
        if (type(prev) is float or type(prev) is int) and 0 <= prev < math.inf:
            return self.reserve(key, amount, limit - prev * carry, ttl, floor=0), prev
        return False, prev

    def reserve_leased(self, key: str, amount: float, limit: float, ttl: float | None = None,
                       *, floor: float | None = None) -> bool:
        """``reserve`` for a budget window: a networked store may reserve several
        calls' worth at once and serve the next calls from it (``redis_leases.py``).
        The limit holds all the same; unused room is given back soon after."""
        return self.reserve(key, amount, limit, ttl, floor=floor)

    def give_back_leases(self, prefix: str) -> None:  # noqa: B027 - only leasing stores
        """Give back the unused leases on keys starting with ``prefix`` now."""

    def reserve_sliding_many(self, items: Sequence[tuple[str, str, float, float]],
                             carry: float, ttl: float | None = None) -> list[tuple[bool, Any]]:
        """``reserve_sliding(key, prev_key, amount, limit, carry, ttl)`` for each of
        ``items``, every one attempted (the caller gives back what it does not keep)."""
        return [self.reserve_sliding(key, prev, amount, limit, carry, ttl)
                for key, prev, amount, limit in items]

    def reserve_sliding_leased(self, items: Sequence[tuple[str, str, float, float]],
                               carry: float, ttl: float) -> list[tuple[bool, Any]]:
        """``reserve_sliding_many`` that a networked store may serve from leases, as
        ``reserve_leased`` does for budgets (``redis_leases.py``)."""
        return self.reserve_sliding_many(items, carry, ttl)

    # --- advisory reads and writes nobody waits for -------------------------------------

    def peek(self, key: str) -> Any:
        """``get`` for a value that only steers (is a circuit open, a cooldown running,
        an adaptive share): a networked store may answer from what this process read
        in the last ``state.read_cache_ms`` or wrote since, not from a round trip.
        What decides a transition across processes reads with ``get`` and ``cas``."""
        return self.get(key)

    def incr_later(self, key: str, amount: float, ttl: float | None = None, *,
                   reset: bool = False,
                   then: Callable[[float, float], None] | None = None) -> None:
        """``incr`` whose result nobody waits for (a reservation settled, a success
        counted). A networked store sends it with this process's next operation on
        ``key`` or within ``state.write_behind_ms`` (``state/write_behind.py``); a
        failure then is logged, not raised. ``reset``: a value that is not a number
        starts over at ``amount`` (advisory counters) instead of being left as it is.
        ``then(before, after)``: told the value around this write once it is made (a
        held write merged with others: around all of them), e.g. to alert on a
        threshold crossed."""
        try:
            after = self.incr(key, amount, ttl)
        except StateStoreUnavailable:
            raise
        except StateStoreError:
            if not reset:
                raise
            self.delete(key)
            after = self.incr(key, amount, ttl)
        if then is not None:
            then(after - amount, after)

    def delete_later(self, key: str) -> None:
        """``delete``, sent as ``incr_later`` is."""
        self.delete(key)

    def set_later(self, key: str, value: Any, ttl: float | None = None) -> None:
        """``set``, sent as ``incr_later`` is."""
        self.set(key, value, ttl)

    def fold_later(self, key: str, x: float, alpha: float) -> None:
        """Fold ``x`` into the moving average at ``key`` (absent or not a non-negative
        number: it starts at ``x``), sent as ``incr_later`` is."""
        try:
            prev = self.get(key)
        except StateStoreUnavailable:
            raise
        except StateStoreError:
            prev = None
        ok = (type(prev) is float or type(prev) is int) and 0 <= prev < math.inf
        self.set(key, alpha * x + (1 - alpha) * prev if ok else x)

    def flush(self) -> None:  # noqa: B027 - only a store that holds writes has work here
        """Send the writes held by ``*_later`` now."""

    def number(self, key: str) -> float:
        """The finite number at ``key`` (0 if absent); anything else is a
        ``StateStoreError`` naming the key and how to reset it."""
        return number(self.get(key), where=repr(self), key=key, fix=self.fix(key))

    def fix(self, key: str) -> str:
        """How an operator deletes ``key`` (quoted in corrupt-value errors)."""
        return f"delete key '{key}' from the state store"

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release resources (connections, files)."""

    # --- the async face: never blocks the event loop ------------------------------------

    async def offload(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``, sync code that uses this store, run where it cannot stall the
        event loop: inline here (an inline store), on a worker thread for a store that
        waits on I/O. The calling task waits; the loop's other tasks keep running."""
        return fn(*args)

    async def aget(self, key: str) -> Any:
        """Async ``get``."""
        return await self.offload(self.get, key)

    async def aset(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Async ``set``."""
        await self.offload(self.set, key, value, ttl)

    async def adelete(self, key: str) -> None:
        """Async ``delete``."""
        await self.offload(self.delete, key)

    async def aincr(self, key: str, amount: float = 1.0, ttl: float | None = None) -> float:
        """Async ``incr``."""
        return await self.offload(self.incr, key, amount, ttl)

    async def areserve(self, key: str, amount: float, limit: float, ttl: float | None = None,
                       *, floor: float | None = None) -> bool:
        """Async ``reserve``."""
        return await self.offload(lambda: self.reserve(key, amount, limit, ttl, floor=floor))

    async def acas(self, key: str, expected: Any, new: Any, ttl: float | None = None) -> bool:
        """Async ``cas``."""
        return await self.offload(self.cas, key, expected, new, ttl)

    async def anumber(self, key: str) -> float:
        """Async ``number``."""
        return number(await self.aget(key), where=repr(self), key=key, fix=self.fix(key))

    async def aclose(self) -> None:
        """Async ``close``: also closes the connections the async face opened."""
        self.close()
