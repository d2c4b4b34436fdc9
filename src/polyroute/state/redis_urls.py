"""Redis as people deploy it: one server, Sentinel, Cluster, with or without TLS.

``state.url`` picks the topology by its scheme (redis-py's own URL forms, plus two
for the topologies redis-py's ``from_url`` does not take):

=====================================================  ==================================
``redis://[[user]:pass@]host[:6379][/db]``             one server (``rediss://``: TLS)
``unix:///run/redis.sock[?db=0]``                      one server over a Unix socket
``redis+sentinel://[[user]:pass@]h1[:26379],h2/svc[/db]``  the master Sentinel names
                                                       ``svc`` (``rediss+sentinel://``: TLS)
``redis+cluster://[[user]:pass@]h1[:6379],h2``         a Redis Cluster
                                                       (``rediss+cluster://``: TLS)
=====================================================  ==================================

The password is the data servers'; Sentinels are asked without one unless
``?sentinel_password=`` gives theirs. TLS options ride in the query:
``ssl_ca_certs``, ``ssl_certfile``, ``ssl_keyfile``, ``ssl_cert_reqs``
(``required``/``optional``/``none``).

On a Cluster every key polyroute writes carries a hash tag, the first two parts of
the key (``{budget:global}``, ``{cb:openai/gpt-4.1}``), so one budget's or one
deployment's keys live in one slot; the Lua scripts touch one key each, so they
run on any topology.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from polyroute.errors import ConfigError

__all__ = [
    "RedisTarget",
    "async_client",
    "hash_tagged",
    "masked_url",
    "parse_redis_url",
    "sync_client",
]

_SSL_OPTIONS = ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile", "ssl_cert_reqs")
_SCHEMES = {
    "redis": ("single", False), "rediss": ("single", True), "unix": ("single", False),
    "redis+sentinel": ("sentinel", False), "rediss+sentinel": ("sentinel", True),
    "redis+cluster": ("cluster", False), "rediss+cluster": ("cluster", True),
}


@dataclass(frozen=True)
class RedisTarget:
    """What a ``state.url`` names (never printed: it holds the password)."""

    kind: str  # single | sentinel | cluster
    tls: bool
    url: str
    hosts: tuple[tuple[str, int], ...] = ()
    service: str | None = None
    db: int = 0
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    sentinel_password: str | None = field(default=None, repr=False)
    ssl: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"<RedisTarget {self.kind} {masked_url(self.url)}>"


def _split_netloc(netloc: str) -> tuple[str | None, str | None, str]:
    """(user, password, hosts) of ``user:pass@h1:p1,h2``; the rightmost @ ends the
    credentials (a password may hold one)."""
    if "@" not in netloc:
        return None, None, netloc
    cred, hosts = netloc.rsplit("@", 1)
    user, sep, password = cred.partition(":")
    return (unquote(user) or None), (unquote(password) if sep else None), hosts


def masked_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for errors and logs); works on
    the multi-host Sentinel and Cluster forms too."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return "<unparseable redis url>"
    rest, q, query = rest.partition("?")
    query = re.sub(r"(sentinel_password=)[^&]*", r"\1***", query)
    netloc, slash, tail = rest.partition("/")
    user, password, hosts = _split_netloc(netloc)
    if password is not None:
        netloc = f"{user or ''}:***@{hosts}"
    return f"{scheme}://{netloc}{slash}{tail}{q}{query}"


def _bad(url: str, why: str, fix: str) -> ConfigError:
    return ConfigError(f"state.url {masked_url(url)!r}: {why}", field="state.url", fix=fix)


def _hosts(url: str, text: str, default_port: int) -> tuple[tuple[str, int], ...]:
    out = []
    for item in text.split(","):
        item = item.strip()
        if item.startswith("["):  # [IPv6]:port
            host, _, port = item[1:].partition("]")
            port = port.lstrip(":")
        else:
            host, _, port = item.rpartition(":") if ":" in item else (item, "", "")
        if not host:
            raise _bad(url, f"host {item!r} is empty", "write host[:port], comma-separated")
        try:
            number = int(port) if port else default_port
        except ValueError:
            raise _bad(url, f"port {port!r} of {host!r} is not a number",
                       "write host:port with a numeric port") from None
        if not 0 < number < 65536:
            raise _bad(url, f"port {number} is out of range", "use a port from 1 to 65535")
        out.append((host, number))
    return tuple(out)


def _db(url: str, text: str) -> int:
    if not text:
        return 0
    if not text.isdigit():
        raise _bad(url, f"database {text!r} is not a number", "end the URL with /0, /1, ...")
    return int(text)


def parse_redis_url(url: str) -> RedisTarget:
    """The topology, hosts, database, credentials and TLS options ``url`` names, or
    ``ConfigError`` naming ``state.url`` (password masked) and the fix."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme not in _SCHEMES:
        raise _bad(url, f"scheme {scheme or '(none)'!r} is not a Redis URL",
                   "use redis://, rediss:// (TLS), unix://, redis+sentinel:// or "
                   "redis+cluster:// (rediss+... for TLS)")
    kind, tls = _SCHEMES[scheme]
    if kind == "single":
        return RedisTarget(kind, tls, url)  # redis-py's from_url parses and validates it
    rest, _, query = url.split("://", 1)[1].partition("?")
    netloc, _, path = rest.partition("/")
    user, password, hosts_text = _split_netloc(netloc)
    params = {k: v[-1] for k, v in parse_qs(query).items()}
    unknown = set(params) - {*_SSL_OPTIONS, "sentinel_password"}
    if unknown:
        raise _bad(url, f"unknown option(s) {sorted(unknown)}",
                   f"use only {', '.join((*_SSL_OPTIONS, 'sentinel_password'))}")
    ssl = {k: params[k] for k in _SSL_OPTIONS if k in params}
    if ssl and not tls:
        raise _bad(url, "TLS options on a plain connection", f"use {'rediss' + scheme[5:]}://")
    if kind == "sentinel":
        parts = [p for p in path.split("/") if p]
        if not parts or len(parts) > 2:
            raise _bad(url, "no master name after the Sentinel hosts",
                       "write redis+sentinel://host:26379,host2/mymaster[/db]")
        return RedisTarget(kind, tls, url, _hosts(url, hosts_text, 26379), parts[0],
                           _db(url, parts[1] if len(parts) == 2 else ""), user, password,
                           params.get("sentinel_password"), ssl)
    if path.strip("/"):
        raise _bad(url, "a Cluster has only database 0",
                   "drop the /db part: redis+cluster://host:6379,host2:6379")
    return RedisTarget(kind, tls, url, _hosts(url, hosts_text, 6379), None, 0, user, password,
                       None, ssl)


def _common(target: RedisTarget, timeout: float) -> dict[str, Any]:
    kw: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout,
                          "username": target.username, "password": target.password}
    if target.tls:
        kw["ssl"] = True
        kw.update(target.ssl)
    return kw


def sync_client(target: RedisTarget, timeout: float) -> Any:
    """A blocking redis-py client for ``target`` (``redis.Redis``, a Sentinel's
    master client, or ``redis.cluster.RedisCluster``, which connects at once)."""
    import redis

    if target.kind == "single":
        return redis.Redis.from_url(target.url, socket_timeout=timeout,
                                    socket_connect_timeout=timeout, health_check_interval=30)
    kw = _common(target, timeout)
    if target.kind == "sentinel":
        from redis.sentinel import Sentinel

        sentinels = Sentinel(list(target.hosts), sentinel_kwargs=_sentinel_kwargs(target, timeout),
                             **kw)
        return sentinels.master_for(target.service or "", db=target.db)
    from redis.cluster import ClusterNode, RedisCluster

    return RedisCluster(startup_nodes=[ClusterNode(h, p)  # type: ignore[no-untyped-call]
                                       for h, p in target.hosts], **kw)


def async_client(target: RedisTarget, timeout: float) -> Any:
    """The ``redis.asyncio`` client for ``target``, for the running event loop."""
    import redis.asyncio

    if target.kind == "single":
        return redis.asyncio.Redis.from_url(target.url, socket_timeout=timeout,
                                            socket_connect_timeout=timeout,
                                            health_check_interval=30)
    kw = _common(target, timeout)
    if target.kind == "sentinel":
        from redis.asyncio.sentinel import Sentinel

        sentinels = Sentinel(list(target.hosts), sentinel_kwargs=_sentinel_kwargs(target, timeout),
                             **kw)
        return sentinels.master_for(target.service or "", db=target.db)
    from redis.asyncio.cluster import ClusterNode, RedisCluster

    return RedisCluster(startup_nodes=[ClusterNode(h, p)
                                       for h, p in target.hosts], **kw)


def _sentinel_kwargs(target: RedisTarget, timeout: float) -> dict[str, Any]:
    kw: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    password = target.sentinel_password
    if password:
        kw["password"] = password
    if target.tls:
        kw["ssl"] = True
        kw.update(target.ssl)
    return kw


def hash_tagged(key: str) -> str:
    """``key`` with a Redis Cluster hash tag around its first two parts:
    ``budget:global:day:2026-12-04:spent`` -> ``{budget:global}:day:2026-12-04:spent``.
    Every key polyroute derives from one budget, circuit or limit extends that
    budget's (or deployment's) own key, so they all get the same tag, one slot."""
    first, sep, rest = key.partition(":")
    second, sep2, tail = rest.partition(":")
    tag = f"{first}{sep}{second}".replace("{", "(").replace("}", ")")
    return "{" + tag + "}" + sep2 + tail
