"""pluggy hooks: register the ``gemini`` and ``vertex_gemini`` provider types and their catalog."""

from __future__ import annotations

from collections.abc import Callable

from polyroute import hookimpl
from polyroute.providers.base import Provider
from polyroute.types import ModelInfo
from polyroute_gemini.catalog import MODELS, VERTEX_MODELS
from polyroute_gemini.embed import GeminiEmbedProvider, embedding_model_infos
from polyroute_gemini.vertex_embed import VertexEmbedProvider, vertex_embedding_model_infos

__all__ = ["polyroute_register_models", "polyroute_register_provider_types"]


@hookimpl
def polyroute_register_provider_types(register: Callable[[type[Provider]], None]) -> None:
    register(GeminiEmbedProvider)  # GeminiProvider + embeddings (embed.py)
    register(VertexEmbedProvider)  # VertexGeminiProvider + embeddings (vertex_embed.py)


@hookimpl
def polyroute_register_models(register: Callable[[ModelInfo], None]) -> None:
    for info in (*MODELS, *VERTEX_MODELS):
        register(info)
    for info in (*embedding_model_infos(), *vertex_embedding_model_infos()):
        register(info)
