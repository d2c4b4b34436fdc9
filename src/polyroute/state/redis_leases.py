"""Budget leases: a process reserves a slice of a budget window at once, then serves
its calls' reservations from it without a round trip (``StateStore.reserve_leased``).

Why: after the held writes (``redis_held.py``) a Redis-backed call still made a
round trip for its budget reservation, ~80-100 µs of client CPU at concurrency 64.
A lease is an ordinary reservation on the shared counter, so the budget still holds
exactly across processes: nothing is ever spent that was not reserved on the
server first. What changes is who holds the room: a process may keep up to
``lease_calls`` calls' worth reserved and unused, and near the limit another
process can be refused while it does. So a lease takes at most an eighth of the
room left (leases shrink to a single call's need near the limit), it is given back
when it sits unused for ``_IDLE`` seconds, when the store closes and when the
process exits; only a killed process leaves its lease counted as spent, until the
budget's window resets. A budget that never resets (``per: total``) is never
leased.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from polyroute.state.base import check_finite
from polyroute.state.redis_held import _ms
from polyroute.state.write_behind import _pid

if TYPE_CHECKING:
    from redis.commands.core import Script

    from polyroute.state.write_behind import WriteBehind

__all__ = ["Leases"]

_IDLE = 1.0  # seconds a lease may sit unused before it is given back
_MARGIN = 1.0  # stop using (and giving back to) a window's key this long before it expires


def _return_at_exit(ref: weakref.ref[Leases]) -> None:
    store = ref()
    if store is not None:
        store.return_leases()


class Leases:
    """Mixed into ``RedisStore`` (after ``HeldWrites``, whose held writes give back)."""

    where: str
    _held: WriteBehind | None
    _lease_script: Script
    _sliding_lease_script: Script

    if TYPE_CHECKING:  # RedisStore's (declared for the type checker only)
        def _k(self, key: str) -> str: ...

        def _run(self, op: str, fn: Any, *args: Any, **kwargs: Any) -> Any: ...

        def reserve(self, key: str, amount: float, limit: float, ttl: float | None = None,
                    *, floor: float | None = None) -> bool: ...

        def reserve_sliding_many(self, items: Sequence[tuple[str, str, float, float]],
                                 carry: float, ttl: float | None = None
                                 ) -> list[tuple[bool, Any]]: ...

        def _execute(self, held: list[Any], calls: list[Any]) -> list[Any]: ...

        def _held_on(self, keys: Sequence[str]) -> list[Any]: ...

        def _error(self, op: str, exc: Exception, key: str) -> Exception: ...

        def _prev(self, raw: Any, prev_key: str) -> Any: ...

        def _slow_sliding(self, key: str, prev_key: str, amount: float, limit: float,
                          carry: float, ttl: float | None) -> tuple[bool, Any]: ...

    def _setup_leases(self, lease_calls: int) -> None:
        self._lease_calls = lease_calls
        # store key -> [unused amount, last used (monotonic), usable until (monotonic)]
        self._leases: dict[str, list[float]] = {}
        self._lease_lock = threading.Lock()
        self._lease_pid = os.getpid()
        self._sweeper: threading.Thread | None = None
        if lease_calls > 0:  # after the write-behind's own: atexit runs this first
            atexit.register(_return_at_exit, weakref.ref(self))

    def reserve_leased(self, key: str, amount: float, limit: float, ttl: float | None = None,
                       *, floor: float | None = None) -> bool:
        if self._held is None or self._lease_calls <= 0 or ttl is None or not amount > 0:
            return self.reserve(key, amount, limit, ttl, floor=floor)
        rk = self._k(key)
        check_finite(where=self.where, key=rk, amount=amount, limit=limit)
        now = time.monotonic()
        with self._lease_lock:
            self._forked()
            lease = self._fresh(rk, now)
            if lease is not None and lease[0] >= amount:
                lease[0] -= amount
                lease[1] = now
                return True
            claimed = lease[0] if lease is not None else 0.0  # ours to top up, not another's
            if lease is not None:
                lease[0] = 0.0
        need = amount - claimed
        try:
            got = float(self._run(
                "reserve", self._lease_script, keys=[rk],
                args=[repr(need), repr(amount * self._lease_calls), repr(float(limit)),
                      _ms(ttl), "" if floor is None else repr(float(floor))],
                key=key, touch=(rk,)))
        except BaseException:
            self._keep(rk, claimed, now, ttl)
            raise
        self._keep(rk, claimed + got - amount if got > 0 else claimed, now, ttl)
        return got > 0

    def reserve_sliding_leased(self, items: Sequence[tuple[str, str, float, float]],
                               carry: float, ttl: float) -> list[tuple[bool, Any]]:
        """``reserve_sliding_many`` served from leases on the current windows' keys:
        what is short is leased in one round trip for all of them."""
        if self._held is None or self._lease_calls <= 0:
            return self.reserve_sliding_many(items, carry, ttl)
        now = time.monotonic()
        rks = [self._k(key) for key, _, _, _ in items]
        claimed: list[float] = []
        with self._lease_lock:
            self._forked()
            short = False
            for rk, (_, _, amount, _) in zip(rks, items, strict=True):
                lease = self._fresh(rk, now)
                if lease is None or lease[0] < amount:
                    short = True
            if not short:  # every one from its lease: no round trip
                for rk, (_, _, amount, _) in zip(rks, items, strict=True):
                    lease = self._leases[rk]
                    lease[0] -= amount
                    lease[1] = now
                return [(True, None) for _ in items]
            for rk in rks:  # ours to top up, not another thread's
                lease = self._leases.get(rk)
                claimed.append(lease[0] if lease is not None else 0.0)
                if lease is not None:
                    lease[0] = 0.0
        calls: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = []
        touch: list[str] = []
        for rk, have, (_, prev_key, amount, limit) in zip(rks, claimed, items, strict=True):
            check_finite(where=self.where, key=rk, amount=amount, limit=limit, carry=carry)
            keys = [rk, self._k(prev_key)]
            touch += keys
            calls.append((self._sliding_lease_script, (), {"keys": keys, "args": [
                repr(max(0.0, amount - have)), repr(amount * self._lease_calls),
                repr(float(limit)), repr(float(carry)), _ms(ttl)]}))
        try:
            results = self._execute(self._held_on(touch), calls)
        except BaseException:
            for rk, have in zip(rks, claimed, strict=True):
                self._keep(rk, have, now, ttl)
            raise
        out: list[tuple[bool, Any]] = []
        error: BaseException | None = None
        for rk, have, got, (key, prev_key, amount, limit) in zip(
                rks, claimed, results, items, strict=True):
            if isinstance(got, Exception) or int(float(got[0])) < 0:
                self._keep(rk, have, now, ttl)
                if isinstance(got, Exception):
                    error = error or self._error("reserve", got, key)
                    out.append((False, None))
                else:  # the previous window is not a count: judged the slow way
                    out.append(self._slow_sliding(key, prev_key, amount, limit, carry, ttl))
                continue
            granted = float(got[0])
            prev = None if got[1] in (b"", "") else self._prev(got[1], prev_key)
            self._keep(rk, have + granted - amount if granted > 0 else have, now, ttl)
            out.append((granted > 0, prev))
        if error is not None:  # give back what the others reserved, then refuse
            for rk, (done, _), (_, _, amount, _) in zip(rks, out, items, strict=True):
                if done:
                    self._keep(rk, amount, now, ttl)
            raise error
        return out

    def _forked(self) -> None:
        """In a forked child (under the lock): the parent's leases are the parent's; a
        child serving from them would spend room reserved once, twice."""
        if self._lease_pid != _pid():
            self._lease_pid, self._leases, self._sweeper = _pid(), {}, None

    def _fresh(self, rk: str, now: float) -> list[float] | None:
        """``rk``'s lease if it may still be used (under the lock)."""
        lease = self._leases.get(rk)
        if lease is not None and now >= lease[2]:
            del self._leases[rk]  # its key expires soon: left to expire with it
            return None
        return lease

    def _keep(self, rk: str, left: float, now: float, ttl: float) -> None:
        with self._lease_lock:
            lease = self._leases.get(rk)
            if lease is None:
                lease = self._leases[rk] = [0.0, now, now + max(0.0, ttl - _MARGIN)]
            lease[0] += max(0.0, left)
            lease[1] = now
            if self._sweeper is None:  # gives idle leases back, even if no call comes
                self._sweeper = threading.Thread(target=self._sweep, daemon=True,
                                                 name="polyroute-lease-sweep")
                self._sweeper.start()

    def _sweep(self) -> None:
        me = threading.current_thread()
        while True:
            time.sleep(_IDLE / 2)
            self._give_back(time.monotonic(), idle_only=True)
            with self._lease_lock:
                if self._sweeper is not me:
                    return
                if not self._leases:
                    self._sweeper = None
                    return

    def give_back_leases(self, prefix: str) -> None:
        """Give back now the unused leases on keys starting with ``prefix`` (a rate
        limit just lowered by a 429 must not keep sending what it leased before)."""
        self._give_back(time.monotonic(), idle_only=False, prefix=self._k(prefix))

    def _give_back(self, now: float, *, idle_only: bool, prefix: str = "") -> None:
        back: list[tuple[str, float]] = []
        with self._lease_lock:
            for rk, lease in list(self._leases.items()):
                if (idle_only and now - lease[1] < _IDLE) or not rk.startswith(prefix):
                    continue
                del self._leases[rk]
                if lease[0] > 0 and now < lease[2]:
                    back.append((rk, lease[0]))
        held = self._held
        if held is not None:
            for rk, left in back:
                held.add(rk, ["g", left])

    def return_leases(self) -> None:
        """Give back every unused lease now (the store closes, the process exits)."""
        self._give_back(time.monotonic(), idle_only=False)
        if self._held is not None:
            self._held.flush()
