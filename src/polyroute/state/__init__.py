"""Shared state behind one seam: in-process now, SQLite and Redis backends drop in."""

from __future__ import annotations

from typing import TYPE_CHECKING

from polyroute.state.base import StateStore
from polyroute.state.memory import MemoryStore

if TYPE_CHECKING:
    from polyroute.config.schema import PolyrouteConfig

__all__ = ["MemoryStore", "StateStore", "state_from_config"]


def state_from_config(config: PolyrouteConfig) -> StateStore:
    """The backend ``config.state`` asks for: in-process by default, or SQLite
    (shared by every process on the host)."""
    scfg = config.state
    if scfg is None or scfg.backend != "sqlite":
        return MemoryStore()
    from polyroute.cost.config import resolve_path
    from polyroute.state.sqlite import SQLiteStore

    return SQLiteStore(resolve_path(scfg.path, config.source))
