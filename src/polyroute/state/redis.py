"""``RedisStore``: a ``StateStore`` shared by every process on every host.

One Redis (or a compatible server: Valkey, KeyDB, a managed Redis), reached
with redis-py. Values are JSON text, never pickle. ``incr`` and ``reserve``
are Lua scripts, so check-and-add is one atomic step on the server whatever
the number of clients; a key's TTL is set when the key is created and kept
after (the same contract as the memory and SQLite stores). Expiry is Redis's
own, so every host agrees on it without synchronised clocks.

Every key is prefixed (``polyroute:`` by default) so several deployments can
share one database. A failure (server down, timeout, auth) raises
``StateStoreError`` naming the server with its password masked and the
operation; a call that meets it is refused, never let through uncounted.

Two faces. The sync one uses a blocking ``redis.Redis`` (thread-safe, pooled).
The async one (``aget``, ``aincr``…) awaits a ``redis.asyncio.Redis`` opened on
first use in each event loop, with the same Lua scripts; ``offload`` runs a block
of sync store code (a guard's hook) on a worker thread. Either way a slow or
paused server stalls only the calls that wait on it, never the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import weakref
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

from polyroute.errors import ConfigError, StateStoreError, StateStoreUnavailable
from polyroute.secrets import redact, remember
from polyroute.state.base import (
    Counter,
    StateStore,
    _corrupt,
    check_finite,
    decode,
    encode,
)
from polyroute.state.offload import ThreadOffload
from polyroute.state.redis_held import HELD_SCRIPT, HeldWrites, _args, _ms, _noscript
from polyroute.state.redis_leases import Leases
from polyroute.state.redis_scripts import (
    _BUMP_ALL,
    _CAS,
    _INCR,
    _LEASE,
    _RESERVE,
    _SLIDING,
    _SLIDING_LEASE,
)
from polyroute.state.redis_urls import (
    async_client,
    hash_tagged,
    masked_url,
    parse_redis_url,
)

T = TypeVar("T")

__all__ = ["RedisStore", "masked_url"]

_CORRUPT = "POLYROUTE_CORRUPT "


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


class _Async:
    """One event loop's ``redis.asyncio`` client and its registered scripts."""

    __slots__ = ("cas", "client", "incr", "reserve")

    def __init__(self, client: Any) -> None:
        self.client = client
        self.cas = client.register_script(_CAS)
        self.incr = client.register_script(_INCR)
        self.reserve = client.register_script(_RESERVE)


class RedisStore(HeldWrites, Leases, StateStore):
    """State in Redis; atomic across processes and hosts. ``read_cache`` and
    ``write_behind`` (seconds; 0: off) are ``peek``'s and ``*_later``'s delays
    (``redis_held.py``); both are off on a Cluster, whose keys span slots."""

    inline = False

    def __init__(self, url: str = "redis://127.0.0.1:6379/0", *, prefix: str = "polyroute:",
                 timeout: float = 5.0, client: Any = None,
                 aclient_factory: Callable[[], Any] | None = None, workers: int = 64,
                 read_cache: float = 0.1, write_behind: float = 0.05,
                 lease_calls: int = 16) -> None:
        self.where = masked_url(url)
        self.prefix = prefix
        self._url, self._timeout = url, timeout
        self.target = parse_redis_url(url)
        # a Cluster spreads keys over slots: tag each so one budget's keys share one
        self.hash_tags = self.target.kind == "cluster"
        if self.hash_tags and ("{" in prefix or "}" in prefix):
            raise ConfigError(f"state.prefix {prefix!r} holds a brace, which would break the "
                              "Cluster hash tags", field="state.prefix",
                              fix="use a prefix without { or }")
        # one worker per concurrent call a loop typically runs (c=64): a thread waits
        # on its round trip with the GIL released
        self._threads = ThreadOffload("polyroute-redis", workers)
        self._aclient_factory = aclient_factory
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Async] = (
            weakref.WeakKeyDictionary())
        for password in (self.target.password or _password(url),
                         self.target.sentinel_password):
            if password:
                remember(password)  # scrubbed from any message that would carry it
        try:
            import redis
        except ImportError as exc:
            raise ConfigError(
                "state.backend 'redis' needs the redis package", field="state.backend",
                fix="pip install 'polyroute[redis]'",
            ) from exc
        from redis.exceptions import RedisClusterException

        # looked up once, not per call; a Cluster's own errors are no RedisError
        self._failure: tuple[type[Exception], ...] = (redis.RedisError, RedisClusterException)
        self._reply: type[Exception] = redis.ResponseError
        if client is None:
            from polyroute.state.redis_urls import sync_client

            try:
                client = sync_client(self.target, timeout)
            except self._failure as exc:  # a Cluster client connects at once
                raise self._failed("connect", exc) from None
        self._redis = client
        self._incr = client.register_script(_INCR)
        self._reserve = client.register_script(_RESERVE)
        self._cas = client.register_script(_CAS)
        self._bump_all = client.register_script(_BUMP_ALL)
        self._sliding = client.register_script(_SLIDING)
        self._held_script = client.register_script(HELD_SCRIPT)
        from redis.commands.core import Script

        self._script_type = Script
        off = self.hash_tags  # one script call per batch needs its keys in one slot
        self._setup_held(0.0 if off else read_cache, 0.0 if off else write_behind)
        self._lease_script = client.register_script(_LEASE)
        self._sliding_lease_script = client.register_script(_SLIDING_LEASE)
        self._setup_leases(0 if off else lease_calls)

    def __repr__(self) -> str:
        return f"<RedisStore {self.where} prefix={self.prefix!r}>"

    def _k(self, key: str) -> str:
        """The Redis key of ``key``: prefixed, hash-tagged on a Cluster."""
        return self.prefix + (hash_tagged(key) if self.hash_tags else key)

    def fix(self, key: str) -> str:
        return f"redis-cli -u {self.where} DEL '{self._k(key)}'"

    def _run(self, op: str, fn: Any, *args: Any, key: str = "",
             touch: Sequence[str] = (), **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)``, errors as ``StateStoreError``. Writes held on the
        store keys it ``touch``es go first, in the same round trip."""
        try:
            held = self._held_on(touch) if touch else None
            if held:
                return self._with_held(held, fn, args, kwargs)
            return fn(*args, **kwargs)
        except (self._reply, *self._failure) as exc:
            raise self._error(op, exc, key) from None

    def _error(self, op: str, exc: Exception, key: str) -> StateStoreError:
        """A redis-py error as ours: a corrupt value at ``key``, or the store failing."""
        if isinstance(exc, self._reply):
            text = str(exc)
            if text.startswith(_CORRUPT) or text.startswith("WRONGTYPE"):
                found = (text[len(_CORRUPT):].split(" script:")[0] if text.startswith(_CORRUPT)
                         else "a value of another Redis type")
                return _corrupt(self.where, self._k(key), found, self.fix(key))
        return self._failed(op, exc)

    def _with_held(self, held: list[Any], fn: Any, args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> Any:
        (result,) = self._execute(held, [(fn, args, kwargs)])
        if isinstance(result, Exception):
            raise result
        return result

    def _execute(self, held: list[Any],
                 calls: list[tuple[Any, tuple[Any, ...], dict[str, Any]]]) -> list[Any]:
        """The held writes, then ``calls`` (a client method or a Script, its args and
        kwargs), in one round trip; each call's result or exception, in order."""
        pipe = self._redis.pipeline(transaction=False)
        if held:
            self._held_call(pipe, held, text=True)
        for fn, args, kwargs in calls:
            if isinstance(fn, self._script_type):
                keys, argv = kwargs["keys"], kwargs["args"]
                pipe.evalsha(fn.sha, len(keys), *keys, *argv)
            else:
                getattr(pipe, fn.__name__)(*args, **kwargs)
        try:
            results = pipe.execute(raise_on_error=False)
        except Exception as exc:
            if held:
                self._held_result(held, exc)
            raise
        if held:
            held_result, results = results[0], results[1:]
            if _noscript(held_result):  # the server lost its scripts (a restart, a flush)
                self._load_held()
                try:
                    held_result = self._held_script(
                        keys=[k for k, _ in held], args=[a for _, o in held for a in _args(o)])
                except Exception as exc:
                    held_result = exc
            self._held_result(held, held_result)
        for i, ((fn, args, kwargs), result) in enumerate(zip(calls, results, strict=True)):
            if _noscript(result):
                try:
                    results[i] = fn(*args, **kwargs)  # a Script loads itself again
                except Exception as exc:
                    results[i] = exc
        return list(results)

    def _failed(self, op: str, exc: Exception) -> StateStoreError:
        # raised ``from None``: redis-py's own exception chain may name the connection.
        return StateStoreUnavailable(
            f"state store {self.where}: {op} failed ({type(exc).__name__}: "
            f"{redact(str(exc))}); check the server is up and reachable and "
            "state.url is right"
        )

    def ping(self) -> None:
        """Fail now, with ``StateStoreError``, if the server cannot be reached."""
        self._run("ping", self._redis.ping)

    def get(self, key: str) -> Any:
        rk = self._k(key)
        raw = self._run("get", self._redis.get, rk, key=key, touch=(rk,))
        if raw is None:
            return None
        return decode(raw, where=self.where, key=rk, fix=self.fix(key))

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        px = None if ttl is None else max(1, int(ttl * 1000))
        rk = self._k(key)
        text = encode(value, where=self.where, key=rk)
        self._wrote(rk)
        self._run("set", self._redis.set, rk, text, px=px, touch=(rk,))

    def delete(self, key: str) -> None:
        rk = self._k(key)
        self._wrote(rk)
        self._run("delete", self._redis.delete, rk, touch=(rk,))

    def incr(self, key: str, amount: float = 1.0, ttl: float | None = None) -> float:
        rk = self._k(key)
        check_finite(where=self.where, key=rk, amount=amount)
        self._wrote(rk)
        value = self._run("incr", self._incr, keys=[rk], args=[repr(float(amount)), _ms(ttl)],
                          key=key, touch=(rk,))
        return float(value)

    def reserve(self, key: str, amount: float, limit: float, ttl: float | None = None, *,
                floor: float | None = None) -> bool:
        check_finite(where=self.where, key=self._k(key), amount=amount, limit=limit,
                     **({} if floor is None else {"floor": floor}))
        rk = self._k(key)
        self._wrote(rk)
        done = self._run("reserve", self._reserve, keys=[rk],
                         args=[repr(float(amount)), repr(float(limit)), _ms(ttl),
                               "" if floor is None else repr(float(floor))], key=key,
                         touch=(rk,))
        return bool(int(done))

    def _cas_args(self, key: str, expected: Any, new: Any, ttl: float | None) -> list[str]:
        where = self.where
        return ["" if expected is None else encode(expected, where=where, key=self._k(key)),
                "" if new is None else encode(new, where=where, key=self._k(key)), _ms(ttl)]

    def cas(self, key: str, expected: Any, new: Any, ttl: float | None = None) -> bool:
        rk = self._k(key)
        self._wrote(rk)
        done = self._run("cas", self._cas, keys=[rk],
                         args=self._cas_args(key, expected, new, ttl), key=key, touch=(rk,))
        return bool(int(done))

    def bump_all(self, counters: Sequence[Counter], *, sets: Sequence[tuple[str, Any]] = (),
                 ewma: tuple[str, float, float] | None = None) -> tuple[list[float | None], bool]:
        # one script, one round trip (the base class: one per write); every key of one
        # deployment's health shares a hash tag, so one slot on a Cluster
        where = self.where
        keys = [self._k(k) for k, _, _ in counters] + [self._k(k) for k, _ in sets]
        args: list[str] = [str(len(counters)), str(len(sets)), "", ""]
        if ewma is not None:
            key, x, alpha = ewma
            check_finite(where=where, key=self._k(key), x=x, alpha=alpha)
            keys.append(self._k(key))
            args[2:4] = [repr(float(x)), repr(float(alpha))]
        for key, amount, ttl in counters:
            check_finite(where=where, key=self._k(key), amount=amount)
            args += [repr(float(amount)), _ms(ttl)]
        args += [encode(v, where=where, key=self._k(k)) for k, v in sets]
        for rk in keys:
            self._wrote(rk)
        got = self._run("bump_all", self._bump_all, keys=keys, args=args,
                        key=counters[0][0] if counters else "", touch=keys)
        values = [None if v in (b"", "") else float(v) for v in got[:len(counters)]]
        return values, got[len(counters)] in (b"1", "1")

    def reserve_sliding(self, key: str, prev_key: str, amount: float, limit: float,
                        carry: float, ttl: float | None = None) -> tuple[bool, Any]:
        check_finite(where=self.where, key=self._k(key), amount=amount, limit=limit,
                     carry=carry)
        # one script, one round trip (the base class: a GET, then the reservation);
        # both windows extend the limit's own key, so one hash tag, one Cluster slot
        keys = [self._k(key), self._k(prev_key)]
        self._wrote(keys[0])
        got = self._run("reserve", self._sliding, keys=keys,
                        args=[repr(float(amount)), repr(float(limit)), repr(float(carry)),
                              _ms(ttl)], key=key, touch=keys)
        if int(got[0]) < 0:  # not a count: read and judged the slow way (refused)
            return super().reserve_sliding(key, prev_key, amount, limit, carry, ttl)
        prev = None if got[1] in (b"", "") else self._prev(got[1], prev_key)  # "": none
        return bool(int(got[0])), prev

    def _prev(self, raw: Any, prev_key: str) -> Any:
        return decode(raw, where=self.where, key=self._k(prev_key), fix=self.fix(prev_key))

    def _slow_sliding(self, key: str, prev_key: str, amount: float, limit: float,
                      carry: float, ttl: float | None) -> tuple[bool, Any]:
        return StateStore.reserve_sliding(self, key, prev_key, amount, limit, carry, ttl)

    async def acas(self, key: str, expected: Any, new: Any, ttl: float | None = None) -> bool:
        done = await self._arun("cas", self._aclient().cas, keys=[self._k(key)],
                                args=self._cas_args(key, expected, new, ttl), key=key,
                                writes=True)
        return bool(int(done))

    def close(self) -> None:
        with contextlib.suppress(Exception):  # a dead server: the send logged it
            self._give_back(time.monotonic(), idle_only=False)  # unused budget leases
            self._close_held()  # what is held goes out before the connections close
        self._threads.close()
        close = getattr(self._redis, "close", None)
        if close is not None:
            close()

    # --- the async face ---------------------------------------------------------------

    async def offload(self, fn: Callable[..., T], *args: Any) -> T:
        return await self._threads.run(fn, *args)

    def _aclient(self) -> _Async:
        loop = asyncio.get_running_loop()
        found = self._async.get(loop)
        if found is None:
            if self._aclient_factory is not None:
                client = self._aclient_factory()
            else:
                client = async_client(self.target, self._timeout)
            found = self._async[loop] = _Async(client)
        return found

    async def _arun(self, op: str, fn: Any, *args: Any, key: str = "", writes: bool = False,
                    **kwargs: Any) -> Any:
        rk = self._k(key)
        if writes:
            self._wrote(rk)
        held = self._held_on((rk,))
        if held:  # this process's own writes on the key land first
            await self.offload(self._send_held, held)
        try:
            return await fn(*args, **kwargs)
        except self._reply as exc:
            text = str(exc)
            if text.startswith(_CORRUPT) or text.startswith("WRONGTYPE"):
                found = (text[len(_CORRUPT):].split(" script:")[0] if text.startswith(_CORRUPT)
                         else "a value of another Redis type")
                raise _corrupt(self.where, self._k(key), found, self.fix(key)) from None
            raise self._failed(op, exc) from None
        except self._failure as exc:
            raise self._failed(op, exc) from None
        except (OSError, TimeoutError) as exc:  # redis.asyncio lets some socket errors out
            raise self._failed(op, exc) from None

    async def aping(self) -> None:
        """Async ``ping``."""
        await self._arun("ping", self._aclient().client.ping)

    async def aget(self, key: str) -> Any:
        raw = await self._arun("get", self._aclient().client.get, self._k(key), key=key)
        if raw is None:
            return None
        return decode(raw, where=self.where, key=self._k(key), fix=self.fix(key))

    async def aset(self, key: str, value: Any, ttl: float | None = None) -> None:
        px = None if ttl is None else max(1, int(ttl * 1000))
        text = encode(value, where=self.where, key=self._k(key))
        await self._arun("set", self._aclient().client.set, self._k(key), text, px=px, key=key,
                         writes=True)

    async def adelete(self, key: str) -> None:
        await self._arun("delete", self._aclient().client.delete, self._k(key), key=key,
                         writes=True)

    async def aincr(self, key: str, amount: float = 1.0, ttl: float | None = None) -> float:
        check_finite(where=self.where, key=self._k(key), amount=amount)
        value = await self._arun("incr", self._aclient().incr, keys=[self._k(key)],
                                 args=[repr(float(amount)), _ms(ttl)], key=key, writes=True)
        return float(value)

    async def areserve(self, key: str, amount: float, limit: float, ttl: float | None = None,
                       *, floor: float | None = None) -> bool:
        check_finite(where=self.where, key=self._k(key), amount=amount, limit=limit,
                     **({} if floor is None else {"floor": floor}))
        done = await self._arun(
            "reserve", self._aclient().reserve, keys=[self._k(key)],
            args=[repr(float(amount)), repr(float(limit)), _ms(ttl),
                  "" if floor is None else repr(float(floor))], key=key, writes=True)
        return bool(int(done))

    async def aclose(self) -> None:
        """Close the sync client and this loop's async client."""
        found = self._async.pop(asyncio.get_running_loop(), None)
        if found is not None:
            await found.client.aclose()
        with contextlib.suppress(Exception):  # a dead server: the send logged it
            await self.offload(self._close_held)  # sent off the loop: a round trip
        self.close()
