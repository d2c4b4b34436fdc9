"""A store on each backend: memory, SQLite, Redis (skipped without a server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from polyroute.state.base import StateStore
from polyroute.state.memory import MemoryStore
from polyroute.state.sqlite import SQLiteStore


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StateStore]:
    made: StateStore
    if request.param == "memory":
        made = MemoryStore()
    elif request.param == "sqlite":
        made = SQLiteStore(tmp_path / "state.db")
    else:
        from polyroute.state.redis import RedisStore

        url, prefix = request.getfixturevalue("redis_url")
        made = RedisStore(url, prefix=prefix)
    yield made
    made.close()
