"""Shared state behind one seam: in-process, SQLite (one host) or Redis (many hosts)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyroute.state.base import StateStore
from polyroute.state.memory import MemoryStore

if TYPE_CHECKING:
    from polyroute.config.schema import PolyrouteConfig

__all__ = ["MemoryStore", "StateStore", "state_from_config"]


def state_from_config(config: PolyrouteConfig) -> StateStore:
    """The backend ``config.state`` asks for: in-process by default, SQLite (shared
    by every process on the host) or Redis (shared by every host)."""
    scfg = config.state
    if scfg is None or scfg.backend == "memory":
        return MemoryStore()
    if scfg.backend == "redis":
        from polyroute.state.redis import RedisStore

        url = (scfg.url.reveal(what="state.url") if scfg.url is not None
               else "redis://127.0.0.1:6379/0")
        store = RedisStore(url, prefix=scfg.prefix, read_cache=scfg.read_cache_ms / 1000,
                           write_behind=scfg.write_behind_ms / 1000,
                           lease_calls=scfg.lease_calls)
        store.ping()  # an unreachable server fails the router's construction, not a call
        return store
    from polyroute.state.paths import resolve_path
    from polyroute.state.sqlite import SQLiteStore

    return SQLiteStore(resolve_path(scfg.path, config.source))
