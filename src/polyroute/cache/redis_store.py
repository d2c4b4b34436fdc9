"""``RedisResponseCache``: the response cache on Redis, shared by every worker.

The same contract as the disk cache (``ResponseCache``): values are JSON text only
(never pickles: a ``str`` is all ``set`` takes and all ``get`` returns), keys are
the sha256 cache keys (namespace, tenant and route already in them), a TTL per
entry (Redis's own expiry), and ``clear(namespace)``. Keys live under
``<prefix><namespace>:``.

It also carries the lease that makes identical concurrent requests from many
processes one upstream call: ``claim`` (``SET NX PX``, a token of this process's
own) marks the request in flight; others see ``leased`` and wait for the answer to
appear; ``release`` drops the lease only if it is still ours (a Lua
compare-and-delete), so a lease that expired and was taken by another process is
left alone.

A Redis failure on ``get`` is a miss, on ``set`` a warning (the guard's rules for
any cache backend), on ``claim`` the call goes upstream: the cache never fails an
answerable call.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from polyroute.errors import ConfigError
from polyroute.secrets import remember
from polyroute.state.offload import ThreadOffload
from polyroute.state.redis_urls import masked_url, parse_redis_url, sync_client

__all__ = ["RedisResponseCache"]

T = TypeVar("T")
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisResponseCache:
    """Answers as JSON text in Redis, with a cross-process in-flight lease."""

    inline = False
    refused = 0  # nothing to refuse: Redis holds only the text polyroute wrote

    def __init__(self, url: str, *, namespace: str = "default",
                 prefix: str = "polyroute:cache:", timeout: float = 5.0,
                 client: Any = None) -> None:
        self.where = masked_url(url)
        target = parse_redis_url(url)
        if target.password:
            remember(target.password)
        try:
            import redis
        except ImportError as exc:
            raise ConfigError("cache.backend 'redis' needs the redis package",
                              field="cache.backend", fix="pip install 'polyroute[redis]'"
                              ) from exc
        self._redis = client if client is not None else sync_client(target, timeout)
        self._error: type[Exception] = redis.RedisError
        self.prefix = prefix
        self.namespace = namespace
        self._token = uuid.uuid4().hex  # this process's leases
        self._release = self._redis.register_script(_RELEASE)
        self._threads = ThreadOffload("polyroute-cache", 32)

    def __repr__(self) -> str:
        return f"<RedisResponseCache {self.where} prefix={self.prefix!r}>"

    def _k(self, key: str, namespace: str | None = None) -> str:
        return f"{self.prefix}{namespace or self.namespace}:{key}"

    def get(self, key: str) -> str | None:
        raw = self._redis.get(self._k(key))
        if raw is None:
            return None
        return raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)

    def set(self, key: str, value: str, ttl: float | None, tag: str | None = None) -> None:
        if type(value) is not str:
            raise TypeError("polyroute caches JSON text only, never pickles")
        px = None if ttl is None else max(1, int(ttl * 1000))
        self._redis.set(self._k(key, tag), value, px=px)

    def delete(self, key: str) -> None:
        self._redis.delete(self._k(key))

    def clear(self, tag: str | None = None) -> int:
        """Delete every entry of namespace ``tag`` (``None``: of every namespace)."""
        match = f"{self.prefix}{tag}:*" if tag else f"{self.prefix}*"
        n = 0
        for key in self._redis.scan_iter(match=match, count=500):
            text = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
            if text[len(self.prefix):].partition(":")[2].startswith("flight:"):
                continue  # an in-flight lease, not an entry: it ends with its call
            n += int(self._redis.delete(key))
        return n

    # --- the cross-process in-flight lease ------------------------------------------

    def _lease(self, key: str) -> str:
        return f"{self.prefix}{self.namespace}:flight:{key}"

    def claim(self, key: str, ttl: float) -> bool:
        """Mark ``key`` in flight for ``ttl`` seconds; ``False``: another process has it.
        A Redis failure claims nothing and says ``True`` (go upstream)."""
        try:
            return bool(self._redis.set(self._lease(key), self._token, nx=True,
                                        px=max(1, int(ttl * 1000))))
        except self._error:
            return True

    def leased(self, key: str) -> bool:
        """Is ``key`` in flight in some process (its lease not yet released/expired)?"""
        try:
            return bool(self._redis.exists(self._lease(key)))
        except self._error:
            return False

    def release(self, key: str) -> None:
        """Drop our lease on ``key`` (never another process's)."""
        with contextlib.suppress(self._error):  # else it expires on its own
            self._release(keys=[self._lease(key)], args=[self._token])

    async def offload(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on a worker thread: async callers never wait on Redis on the loop."""
        return await self._threads.run(fn, *args)

    def stats(self) -> dict[str, Any]:
        """Server and entry count (a SCAN: for the CLI, never on the request path)."""
        return {"backend": "redis", "server": self.where, "prefix": self.prefix,
                "entries": sum(self.namespaces().values())}

    def namespaces(self) -> dict[str, int]:
        """Entries per namespace (in-flight leases not counted)."""
        counts: dict[str, int] = {}
        for raw in self._redis.scan_iter(match=f"{self.prefix}*", count=500):
            key = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
            namespace, _, rest = key[len(self.prefix):].partition(":")
            if rest and not rest.startswith("flight:"):
                counts[namespace] = counts.get(namespace, 0) + 1
        return counts

    def close(self) -> None:
        self._threads.close()
        close = getattr(self._redis, "close", None)
        if close is not None:
            close()
