"""``RoutedEmbedding``: a LlamaIndex ``BaseEmbedding`` routed by polyroute."""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from polyroute.adapter_embeddings import EmbedTarget
from polyroute.embed_types import InputType
from polyroute.router import Router

__all__ = ["RoutedEmbedding"]


class RoutedEmbedding(BaseEmbedding):
    """Query, text and batch embeddings (sync and async) through ``Router.embed``.

    ``embed_batch_size`` (LlamaIndex's) only groups texts before they reach the
    router, which then splits by each provider's documented limits; keep it large.
    """

    model_name: str = "polyroute"
    agent: str | None = None
    route: str | None = None
    model: str | None = None
    dimensions: int | None = None
    document_input_type: InputType | None = "document"
    query_input_type: InputType | None = "query"
    _target: EmbedTarget = PrivateAttr()

    def __init__(self, *, router: Router | None = None, config: Any = None,
                 tags: dict[str, str] | None = None, embed_batch_size: int = 2048,
                 **kwargs: Any) -> None:
        super().__init__(embed_batch_size=embed_batch_size, **kwargs)
        self._target = EmbedTarget(router=router, config=config, agent=self.agent,
                                   route=self.route, model=self.model,
                                   dimensions=self.dimensions, tags=tags)

    @classmethod
    def class_name(cls) -> str:
        return "PolyrouteRoutedEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._target.embed([query], self.query_input_type).vectors[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return (await self._target.aembed([query], self.query_input_type)).vectors[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._target.embed([text], self.document_input_type).vectors[0]

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return (await self._target.aembed([text], self.document_input_type)).vectors[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._target.embed(list(texts), self.document_input_type).vectors if texts else []

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return (await self._target.aembed(list(texts), self.document_input_type)).vectors

    @property
    def router(self) -> Router:
        return self._target.router

    def close(self) -> None:
        self._target.close()
