"""RedisStore's advisory reads and held writes (``StateStore.peek`` / ``*_later``).

Why: a routed call with every guard on made 16 round trips to Redis, and each costs
the client ~30-100 µs of Python (redis-py), which at concurrency 64 made Redis-backed
calls 4x dearer than in-memory ones (bench/state_backends.py). The reads that only
steer (is the circuit closed, is a cooldown running) are answered from this
process's recent reads; the writes nobody waits for are held (``write_behind.py``)
and go out in one script call per key set, or with the next operation on the same
key. Reservations, compare-and-set transitions and every read that decides money or
a limit still go to the server, one atomic step each.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from polyroute.state.base import check_finite, encode
from polyroute.state.redis_scripts import _NUM_FN
from polyroute.state.write_behind import Op, WriteBehind

if TYPE_CHECKING:
    from redis.commands.core import Script

__all__ = ["HELD_SCRIPT", "HeldWrites"]

logger = logging.getLogger("polyroute.state")

# One script applies a batch of held ops: KEYS[i] is op i's key (a key may repeat);
# ARGV holds four fields per op: kind, then (i) amount, ttl ms, "r" to reset a corrupt
# value; (e) c, m, start: v = c + m * v; (s) JSON text, ttl ms; (d) nothing. Returns
# "i:skip" / "i:reset" for each op that met a value polyroute did not write (or, for
# an advisory count, a negative one).
HELD_SCRIPT = _NUM_FN + """
local function read(key)
  local raw = redis.pcall('GET', key)
  if type(raw) == 'table' and raw.err then return nil, true end
  return raw, false
end
local out = {}
for i = 1, #KEYS do
  local key, op = KEYS[i], ARGV[4 * i - 3]
  local a, b, c = ARGV[4 * i - 2], ARGV[4 * i - 1], ARGV[4 * i]
  if op == 'd' then
    redis.call('DEL', key)
  elseif op == 'g' then
    -- give back a lease: never below 0, never onto a key that expired or was reset
    local raw, bad = read(key)
    local n = (not bad) and num(raw) or nil
    if raw and n and n > 0 then
      redis.call('INCRBYFLOAT', key, string.format('%.17g', -math.min(tonumber(a), n)))
    end
  elseif op == 's' then
    if b ~= '' then redis.call('SET', key, a, 'PX', b) else redis.call('SET', key, a) end
  elseif op == 'i' then
    local raw, bad = read(key)
    local n = (not bad) and num(raw) or nil
    local reset = string.find(c, 'r', 1, true)
    -- an advisory count (reset: "r") below 0 counted up is corrupt too
    if n == nil or (reset and n < 0 and tonumber(a) > 0) then
      if reset then
        redis.call('DEL', key)
        redis.call('SET', key, a)
        if b ~= '' then redis.call('PEXPIRE', key, b) end
        out[#out + 1] = i .. ':reset'
      else
        out[#out + 1] = i .. ':skip'
      end
    else
      local v = redis.call('INCRBYFLOAT', key, a)
      if raw == false and b ~= '' then redis.call('PEXPIRE', key, b) end
      if string.find(c, 'v', 1, true) then out[#out + 1] = i .. ':=' .. v end
    end
  elseif op == 'e' then
    local raw, bad = read(key)
    local prev = (not bad) and num(raw) or nil
    if raw == false and not bad then
      redis.call('SET', key, c)
    elseif prev == nil or prev < 0 then
      redis.call('DEL', key)
      redis.call('SET', key, c)
      out[#out + 1] = i .. ':reset'
    else
      redis.call('SET', key, string.format('%.17g', tonumber(a) + tonumber(b) * prev))
    end
  end
end
return out
"""


def _ms(ttl: float | None) -> str:
    return "" if ttl is None else str(max(1, int(ttl * 1000)))


def _args(op: Op) -> list[str]:
    kind = op[0]
    if kind == "i":
        return ["i", repr(float(op[1])), _ms(op[2]), ("r" if op[3] else "") + (
            "v" if op[4] else "")]
    if kind == "e":
        return ["e", repr(float(op[1])), repr(float(op[2])), repr(float(op[3]))]
    if kind == "s":
        return ["s", op[1], _ms(op[2]), ""]
    if kind == "g":
        return ["g", repr(float(op[1])), "", ""]
    return ["d", "", "", ""]


class HeldWrites:
    """Mixed into ``RedisStore``: ``peek``, the ``*_later`` writes and how they ride
    along with the store's own operations."""

    where: str  # RedisStore's
    prefix: str
    _redis: Any
    _held_script: Script

    if TYPE_CHECKING:  # RedisStore's (declared for the type checker only)
        def _k(self, key: str) -> str: ...

        def fix(self, key: str) -> str: ...

        def get(self, key: str) -> Any: ...

    def _setup_held(self, read_cache: float, write_behind: float) -> None:
        self._read_cache = read_cache
        self._seen: dict[str, tuple[float, int, Any]] = {}  # key -> (when, writes, value)
        self._peeked: set[str] = set()
        self._writes = 0  # bumped by each write to a peeked key: a read that started
        # before one must not be remembered after it
        self._held = WriteBehind(write_behind, self._send_held) if write_behind > 0 else None
        self.holds_writes = self._held is not None

    # --- reads ----------------------------------------------------------------------

    def peek(self, key: str) -> Any:
        if self._read_cache <= 0:
            return self.get(key)
        rk = self._k(key)
        self._peeked.add(rk)
        now = time.monotonic()
        hit = self._seen.get(rk)
        if hit is not None and now - hit[0] < self._read_cache and hit[1] == self._writes:
            return hit[2]
        writes = self._writes
        value = self.get(key)
        if writes == self._writes:
            if len(self._seen) > 10_000:  # bounded: keys come and go
                self._seen.clear()
                self._peeked.clear()
            self._seen[rk] = (now, writes, value)
        return value

    def _wrote(self, rk: str) -> None:
        """A write by this process to store key ``rk``: ``peek`` reads it afresh."""
        if rk in self._peeked:
            self._seen.pop(rk, None)
            self._writes += 1

    # --- held writes -------------------------------------------------------------------

    def _hold(self, key: str, op: Op) -> None:
        rk = self._k(key)
        if rk in self._peeked:
            self._wrote(rk)
        self._held.add(rk, op)  # type: ignore[union-attr]  # callers checked

    def incr_later(self, key: str, amount: float, ttl: float | None = None, *,
                   reset: bool = False,
                   then: Callable[[float, float], None] | None = None) -> None:
        if self._held is None:
            super().incr_later(key, amount, ttl, reset=reset, then=then)  # type: ignore[misc]
            return
        amount = float(amount)
        if not math.isfinite(amount):
            check_finite(where=self.where, key=self._k(key), amount=amount)  # raises
        self._hold(key, ["i", amount, ttl, reset, [then] if then else []])

    def delete_later(self, key: str) -> None:
        if self._held is None:
            super().delete_later(key)  # type: ignore[misc]
            return
        self._hold(key, ["d"])

    def set_later(self, key: str, value: Any, ttl: float | None = None) -> None:
        if self._held is None:
            super().set_later(key, value, ttl)  # type: ignore[misc]
            return
        self._hold(key, ["s", encode(value, where=self.where, key=self._k(key)), ttl])

    def fold_later(self, key: str, x: float, alpha: float) -> None:
        if self._held is None:
            super().fold_later(key, x, alpha)  # type: ignore[misc]
            return
        check_finite(where=self.where, key=self._k(key), x=x, alpha=alpha)
        self._hold(key, ["e", alpha * x, 1.0 - alpha, float(x)])

    def flush(self) -> None:
        if self._held is not None:
            self._held.flush()

    def _close_held(self) -> None:
        if self._held is not None:
            self._held.close()

    def _held_on(self, keys: Sequence[str]) -> list[tuple[str, Op]]:
        """Take the held writes on these store keys: they go first, in the same
        round trip, so this process reads and reserves after its own writes."""
        held = self._held
        if held is None or not held:
            return []
        return held.take(keys)

    def _held_call(self, pipe: Any, ops: list[tuple[str, Op]], *, text: bool = False) -> None:
        """Queue the script call that applies ``ops``. ``text``: by its text (EVAL),
        for a pipeline whose later commands must run after it: by its hash, a server
        that lost its scripts would refuse it and run those commands first."""
        args: list[str] = []
        for _, op in ops:
            args += _args(op)
        keys = [k for k, _ in ops]
        if text:
            pipe.eval(HELD_SCRIPT, len(ops), *keys, *args)
        else:
            pipe.evalsha(self._held_script.sha, len(ops), *keys, *args)

    def _held_result(self, ops: list[tuple[str, Op]], result: Any) -> None:
        """Log what a batch of held writes met; never raises (nobody waits for it)."""
        if isinstance(result, Exception):
            logger.error("state store %s: %d held writes were not applied (%s: %s); "
                         "advisory counters may lag, settled refunds are lost (budgets "
                         "then read as more spent, never less)", self.where, len(ops),
                         type(result).__name__, result)
            return
        for item in result or ():
            text = item.decode() if isinstance(item, bytes) else str(item)
            index, _, what = text.partition(":")
            rk, op = ops[int(index) - 1]
            key = rk[len(self.prefix):] if rk.startswith(self.prefix) else rk
            if what.startswith("="):
                after = float(what[1:])
                for then in op[4]:
                    try:
                        then(after - op[1], after)
                    except Exception:  # a callback's failure is its own
                        logger.exception("state store: a held write's callback failed")
            elif what == "reset":
                logger.warning("state store %s: key '%s' held a value that is not a value "
                               "polyroute wrote; treated as no data, it starts over",
                               self.where, key)
            else:
                logger.error("state store %s: key '%s' holds a value that is not a value "
                             "polyroute wrote, so a write to it was dropped and the next "
                             "reservation on it fails closed. To reset it: %s",
                             self.where, key, self.fix(key))

    def _send_held(self, ops: list[tuple[str, Op]]) -> None:
        """The write-behind thread's (and ``flush``'s) send: one script call."""
        pipe = self._redis.pipeline(transaction=False)
        self._held_call(pipe, ops)
        try:
            results = pipe.execute(raise_on_error=False)
        except Exception as exc:  # a dead server: nobody to raise to
            self._held_result(ops, exc)
            return
        result = results[0]
        if _noscript(result):
            self._load_held()
            try:
                result = self._held_script(keys=[k for k, _ in ops],
                                           args=[a for _, op in ops for a in _args(op)])
            except Exception as exc:
                result = exc
        self._held_result(ops, result)

    def _load_held(self) -> None:
        self._redis.script_load(HELD_SCRIPT)


def _noscript(result: Any) -> bool:
    from redis.exceptions import NoScriptError

    return isinstance(result, NoScriptError)
