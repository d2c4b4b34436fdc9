"""pluggy hooks: register the ``ollama`` provider type and its model catalog."""

from __future__ import annotations

from collections.abc import Callable

from polyroute import hookimpl
from polyroute.providers.base import Provider
from polyroute.types import ModelInfo
from polyroute_ollama.catalog import MODELS
from polyroute_ollama.embed import OllamaEmbedProvider, embedding_model_infos

__all__ = ["polyroute_register_models", "polyroute_register_provider_types"]


@hookimpl
def polyroute_register_provider_types(register: Callable[[type[Provider]], None]) -> None:
    register(OllamaEmbedProvider)  # OllamaProvider + embeddings (embed.py)


@hookimpl
def polyroute_register_models(register: Callable[[ModelInfo], None]) -> None:
    for info in MODELS:
        register(info)
    for info in embedding_model_infos():
        register(info)
