"""The per-text embedding cache: one entry per (space, input_type, text), JSON only.

It lives in the response cache's store (``ResponseCache``: JSON text under sha256
keys, owner-only folder, pickles refused) under its own tag, so ``cache clear``
and the size limit cover it. Entries are partitioned like the chat cache: by
namespace and by tenant (``cache.tenant_tag``, from the call's tags or its
agent's). A space change (another model, another dimension) is another key, so a
cached vector is never served in a space it was not made in.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence

from polyroute.cache.store import ResponseCache
from polyroute.embed_types import EmbeddingSpace
from polyroute.logs import get_logger

__all__ = ["EmbeddingCache", "embed_cache_key"]

logger = get_logger("cache.embeddings")
TAG_PREFIX = "embed:"


def embed_cache_key(space: EmbeddingSpace, text: str, input_type: str | None, *,
                    namespace: str, tenant: str | None) -> str:
    body = json.dumps({"v": 1, "ns": namespace, "tenant": tenant, "space": space.id,
                       "input_type": input_type, "text": text},
                      ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()


class EmbeddingCache:
    def __init__(self, store: ResponseCache, *, namespace: str, ttl: float | None) -> None:
        self.store, self.namespace, self.ttl = store, namespace, ttl
        self.hits = 0
        self.misses = 0

    def get_many(self, space: EmbeddingSpace, texts: Sequence[str], input_type: str | None,
                 tenant: str | None) -> list[list[float] | None]:
        out: list[list[float] | None] = []
        for text in texts:
            raw = self.store.get(embed_cache_key(space, text, input_type,
                                                 namespace=self.namespace, tenant=tenant))
            vec = _vector(raw, space)
            if vec is None:
                self.misses += 1
            else:
                self.hits += 1
            out.append(vec)
        return out

    def put_many(self, space: EmbeddingSpace, texts: Sequence[str],
                 vectors: Sequence[Sequence[float]], input_type: str | None,
                 tenant: str | None) -> None:
        tag = TAG_PREFIX + self.namespace
        for text, vec in zip(texts, vectors, strict=True):
            key = embed_cache_key(space, text, input_type, namespace=self.namespace,
                                  tenant=tenant)
            try:
                self.store.set(key, json.dumps(list(vec)), self.ttl, tag=tag)
            except Exception as exc:  # a full disk must not fail a call that answered
                logger.warning("could not store an embedding in the cache: %s", exc)
                return


def _vector(raw: str | None, space: EmbeddingSpace) -> list[float] | None:
    """A stored entry as a vector, or ``None`` (absent, or not a vector of this space:
    a tampered row is a miss, never an answer)."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, list) or not value:
        return None
    if space.dimensions is not None and len(value) != space.dimensions:
        return None
    if not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
               for x in value):
        return None
    return [float(x) for x in value]
