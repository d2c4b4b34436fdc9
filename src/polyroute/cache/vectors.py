"""Vector indexes for the semantic cache, behind one small seam (``VectorIndex``), so a
shared vector store can be added later without touching the cache.

- ``UsearchIndex``: an HNSW graph (the maintained ``usearch`` package): sub-millisecond
  lookups at 100,000 entries on one core — the default when installed.
- ``NumpyIndex``: exact brute force (a matrix-vector product): no extra package, exact,
  fine for a few thousand entries per scope; 13 ms at 100,000 (bench/semantic_cache.py).

Vectors are L2-normalised on the way in, so the score is the cosine similarity.
NumPy is imported here, never by the core: this module loads only with
``cache.semantic.enabled``.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from polyroute.errors import ConfigError, MissingExtraError

__all__ = ["NumpyIndex", "UsearchIndex", "VectorIndex", "make_index", "normalise"]


class VectorIndex(Protocol):
    """Nearest neighbours by cosine similarity, keyed by integer ids."""

    def add(self, key: int, vector: Any) -> None: ...

    def remove(self, key: int) -> None: ...

    def search(self, vector: Any, k: int) -> list[tuple[int, float]]:
        """Up to ``k`` ``(key, cosine similarity)``, most similar first."""
        ...

    def __len__(self) -> int: ...


def normalise(vector: Any) -> Any:
    v = np.asarray(vector, dtype=np.float32).reshape(-1)
    if not np.all(np.isfinite(v)):
        raise ValueError("the embedding holds NaN or infinite values")
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


class NumpyIndex:
    def __init__(self, ndim: int) -> None:
        self.ndim = ndim
        self._matrix = np.zeros((0, ndim), dtype=np.float32)
        self._keys: list[int] = []
        self._rows: dict[int, int] = {}

    def add(self, key: int, vector: Any) -> None:
        if key in self._rows:
            self.remove(key)
        v = normalise(vector)
        if v.shape != (self.ndim,):
            raise ValueError(f"a {v.shape[0]}-dimensional vector in a {self.ndim}-d index")
        if len(self._keys) == self._matrix.shape[0]:  # grow by doubling: amortised O(1)
            grown = np.zeros((max(16, 2 * len(self._keys)), self.ndim), dtype=np.float32)
            grown[: len(self._keys)] = self._matrix[: len(self._keys)]
            self._matrix = grown
        self._rows[key] = len(self._keys)
        self._matrix[len(self._keys)] = v
        self._keys.append(key)

    def remove(self, key: int) -> None:
        row = self._rows.pop(key, None)
        if row is None:
            return
        last = len(self._keys) - 1
        if row != last:  # move the last row into the hole
            moved = self._keys[last]
            self._matrix[row] = self._matrix[last]
            self._keys[row] = moved
            self._rows[moved] = row
        self._keys.pop()

    def search(self, vector: Any, k: int) -> list[tuple[int, float]]:
        n = len(self._keys)
        if n == 0 or k <= 0:
            return []
        scores = self._matrix[:n] @ normalise(vector)
        k = min(k, n)
        top = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
        top = top[np.argsort(-scores[top])]
        return [(self._keys[i], float(scores[i])) for i in top]

    def __len__(self) -> int:
        return len(self._keys)


class UsearchIndex:
    def __init__(self, ndim: int) -> None:
        try:
            from usearch.index import Index
        except ImportError:
            raise MissingExtraError("the semantic cache's usearch index", package="usearch",
                                    extra="semantic", module="usearch") from None
        self.ndim = ndim
        # f16 keeps cosine to ~1e-3 (thresholds are 0.8-0.95) at half the memory; a
        # smaller expansion while adding makes inserts ~4x cheaper with recall@1 of 1.0
        # on the benchmark (bench/semantic_eval.py)
        self._index = Index(ndim=ndim, metric="cos", dtype="f16", connectivity=16,
                            expansion_add=32)

    def add(self, key: int, vector: Any) -> None:
        if key in self._index:
            self._index.remove(key)
        self._index.add(key, normalise(vector))

    def remove(self, key: int) -> None:
        if key in self._index:
            self._index.remove(key)

    def search(self, vector: Any, k: int) -> list[tuple[int, float]]:
        if len(self._index) == 0 or k <= 0:
            return []
        matches = self._index.search(normalise(vector), k)
        return [(int(key), 1.0 - float(dist))
                for key, dist in zip(matches.keys, matches.distances, strict=True)]

    def __len__(self) -> int:
        return len(self._index)


def make_index(kind: str, ndim: int) -> VectorIndex:
    """``auto``: usearch when installed, else NumPy."""
    if kind == "numpy":
        return NumpyIndex(ndim)
    if kind == "usearch":
        return UsearchIndex(ndim)
    if kind == "auto":
        try:
            return UsearchIndex(ndim)
        except MissingExtraError:
            return NumpyIndex(ndim)
    raise ConfigError(f"unknown vector index '{kind}'", field="cache.semantic.index",
                      fix="use auto, usearch or numpy")
