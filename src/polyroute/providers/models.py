"""A plugin's bundled model catalog, looked up by id or alias.

Every plugin ships a tuple of ``ModelInfo`` and a ``lookup(model)``; the index
behind it (each model under its id, then under each alias that no model
claims first) is the same everywhere and lives here.
"""

from __future__ import annotations

from collections.abc import Iterable

from polyroute.types import ModelInfo

__all__ = ["index_models"]


def index_models(models: Iterable[ModelInfo]) -> dict[str, ModelInfo]:
    """``{id or alias: ModelInfo}``: an id wins over an earlier model's alias, and of
    two models with one alias the first keeps it."""
    index: dict[str, ModelInfo] = {}
    for info in models:
        index[info.model] = info
        for alias in info.aliases:
            index.setdefault(alias, info)
    return index
