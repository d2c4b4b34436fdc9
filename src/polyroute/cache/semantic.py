"""The semantic cache: a near-duplicate prompt gets a stored answer, but only when it
asks the same thing (opt-in: ``cache.semantic.enabled``; docs/semantic-cache.md).

A lookup runs after the exact cache missed. It applies only to a request whose last
message is the user's text, and (by default) only to deterministic ones
(temperature 0; a call opts in with tag ``semantic_cache: on``). Its **scope** is the
exact cache's key of everything except that last message — tenant, agent, the
route's models, system prompt, history, tools, parameters — plus the embedding
space, so a near match never crosses tenants, models, prompts or embedding models;
changing a route's models or an agent's system prompt starts a new scope (the old
entries simply stop matching and expire). Within the scope the nearest stored
prompts above ``threshold`` are tried, best first, and the first that passes the
content gate (``semantic_gate``) answers, from the exact cache entry it points to
(an entry evicted or expired there is dropped here too).

Entries persist in ``semantic.db`` beside the cache (owner-only); each process keeps
an index per scope in memory and picks up rows other processes added (one indexed
query per lookup).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from polyroute.cache.embedders import Embedder
from polyroute.cache.semantic_gate import gate
from polyroute.cache.vectors import VectorIndex, make_index
from polyroute.config.cost import SemanticCacheConfig
from polyroute.logs import get_logger

__all__ = ["SemanticCache", "SemanticHit"]

logger = get_logger("cache")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
  id INTEGER PRIMARY KEY, scope TEXT NOT NULL, key TEXT NOT NULL, prompt TEXT NOT NULL,
  vector BLOB NOT NULL, expires REAL
);
CREATE INDEX IF NOT EXISTS entries_scope ON entries(scope, id);
"""


@dataclass(frozen=True, slots=True)
class SemanticHit:
    key: str
    """The exact cache key of the stored answer."""
    similarity: float
    prompt: str


@dataclass(slots=True)
class _Scope:
    index: VectorIndex
    rows: dict[int, tuple[str, str, float | None]]  # id -> (key, prompt, expires)
    last_id: int = 0


class SemanticCache:
    def __init__(self, cfg: SemanticCacheConfig, embedder: Embedder, directory: str | Path,
                 *, clock: Any = time.time) -> None:
        self.cfg, self.embedder, self.clock = cfg, embedder, clock
        folder = Path(directory)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / "semantic.db"
        if path.is_symlink():
            raise OSError(f"{path} is a symbolic link; refusing to follow it")
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        os.close(fd)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None,
                                   timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._scopes: dict[str, _Scope] = {}
        self.lookups = self.hits = self.gated = 0

    # --- reads ------------------------------------------------------------------------

    def _scope(self, scope: str) -> _Scope:
        """The scope's index, brought up to date with rows any process added."""
        entry = self._scopes.get(scope)
        if entry is None:
            entry = self._scopes[scope] = _Scope(make_index(self.cfg.index, self.embedder.ndim),
                                                 {})
        rows = self._db.execute(
            "SELECT id, key, prompt, vector, expires FROM entries WHERE scope = ? AND id > ?"
            " ORDER BY id", (scope, entry.last_id)).fetchall()
        for row_id, key, prompt, blob, expires in rows:
            vector = np.frombuffer(blob, dtype=np.float32)
            if vector.shape == (self.embedder.ndim,):
                entry.index.add(row_id, vector)
                entry.rows[row_id] = (key, prompt, expires)
            entry.last_id = row_id
        return entry

    def lookup(self, scope: str, prompt: str, vector: Any | None = None, *,
               tags: Mapping[str, str] | None = None) -> tuple[SemanticHit | None, Any]:
        """The best stored prompt that clears the threshold and the gate, and the
        prompt's vector (to store it after a miss without embedding it twice).
        ``tags``: the call's, for an embedder that is a routed, budgeted call."""
        if vector is None:
            vector = self.embed(prompt, tags)
        now = self.clock()
        with self._lock:
            self.lookups += 1
            entry = self._scope(scope)
            found = entry.index.search(vector, self.cfg.max_candidates)
            for row_id, similarity in found:
                if similarity < self.cfg.threshold:
                    break
                key, stored, expires = entry.rows[row_id]
                if expires is not None and expires <= now:
                    self._drop(entry, row_id)
                    continue
                if self.cfg.gate:
                    reason = gate(prompt, stored)
                    if reason is not None:
                        self.gated += 1
                        logger.debug("semantic near match %.3f refused: %s", similarity, reason)
                        continue
                self.hits += 1
                return SemanticHit(key, similarity, stored), vector
        return None, vector

    def embed(self, prompt: str, tags: Mapping[str, str] | None = None) -> Any:
        if getattr(self.embedder, "takes_tags", False):
            vectors = self.embedder.embed([prompt], tags=tags)  # type: ignore[call-arg]
        else:
            vectors = self.embedder.embed([prompt])
        return np.asarray(vectors, dtype=np.float32).reshape(-1)

    # --- writes -----------------------------------------------------------------------

    def add(self, scope: str, prompt: str, key: str, ttl: float | None,
            vector: Any | None = None, *, tags: Mapping[str, str] | None = None) -> None:
        if vector is None:
            vector = self.embed(prompt, tags)
        blob = np.asarray(vector, dtype=np.float32).reshape(-1).tobytes()
        expires = None if ttl is None else self.clock() + ttl
        with self._lock:
            self._db.execute("INSERT INTO entries (scope, key, prompt, vector, expires) "
                             "VALUES (?, ?, ?, ?, ?)", (scope, key, prompt, blob, expires))
            self._scope(scope)

    def forget(self, scope: str, key: str) -> None:
        """The exact entry behind ``key`` is gone (evicted, expired): drop its prompts."""
        with self._lock:
            entry = self._scopes.get(scope)
            if entry is None:
                return
            for row_id in [r for r, (k, _, _) in entry.rows.items() if k == key]:
                self._drop(entry, row_id)

    def _drop(self, entry: _Scope, row_id: int) -> None:
        entry.index.remove(row_id)
        entry.rows.pop(row_id, None)
        self._db.execute("DELETE FROM entries WHERE id = ?", (row_id,))

    def purge_expired(self) -> int:
        with self._lock:
            cur = self._db.execute("DELETE FROM entries WHERE expires IS NOT NULL AND "
                                   "expires <= ?", (self.clock(),))
            self._scopes.clear()  # rebuilt from the table on the next lookup
            return cur.rowcount

    def stats(self) -> dict[str, Any]:
        return {"semantic_lookups": self.lookups, "semantic_hits": self.hits,
                "semantic_gated": self.gated}

    def close(self) -> None:
        with self._lock:
            self._db.close()
