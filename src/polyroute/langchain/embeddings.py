"""``RoutedEmbeddings``: LangChain ``Embeddings`` routed by polyroute (``Router.embed``)."""

from __future__ import annotations

from typing import Any

from langchain_core.embeddings import Embeddings

from polyroute.adapter_embeddings import EmbedTarget
from polyroute.embed_types import InputType
from polyroute.router import Router

__all__ = ["RoutedEmbeddings"]


class RoutedEmbeddings(Embeddings):
    """``embed_documents``/``embed_query`` (and their async forms) through a router.

    :param router: a ``Router`` (shared, not closed here), or
    :param config: a config (path, dict or ``PolyrouteConfig``; default
        ``$POLYROUTE_CONFIG``) to build one from (closed by ``close``).
    :param agent, route, model, dimensions, tags: what ``Router.embed`` takes.
    :param document_input_type, query_input_type: the ``input_type`` of each kind.
    """

    def __init__(self, *, router: Router | None = None, config: Any = None,
                 agent: str | None = None, route: str | None = None,
                 model: str | None = None, dimensions: int | None = None,
                 tags: dict[str, str] | None = None,
                 document_input_type: InputType | None = "document",
                 query_input_type: InputType | None = "query") -> None:
        self._target = EmbedTarget(router=router, config=config, agent=agent, route=route,
                                   model=model, dimensions=dimensions, tags=tags)
        self.document_input_type = document_input_type
        self.query_input_type = query_input_type

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return self._target.embed(list(texts), self.document_input_type).vectors

    def embed_query(self, text: str) -> list[float]:
        return self._target.embed([text], self.query_input_type).vectors[0]

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        return (await self._target.aembed(list(texts), self.document_input_type)).vectors

    async def aembed_query(self, text: str) -> list[float]:
        return (await self._target.aembed([text], self.query_input_type)).vectors[0]

    @property
    def router(self) -> Router:
        return self._target.router

    def close(self) -> None:
        self._target.close()
