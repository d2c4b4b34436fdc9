"""The embedding adapters: LangChain's standard embeddings suites (unit and integration,
from langchain-tests) and LlamaIndex's ``BaseEmbedding`` interface (sync, async, batch),
offline against the OpenAI stand-in."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from polyroute.langchain import RoutedEmbeddings
from polyroute.llamaindex import RoutedEmbedding
from polyroute.router import Router
from polyroute.testing.embed_vectors import fake_vector
from polyroute.testing.standin import StandinServer
from polyroute_openai.embed_standin import OpenAIEmbedResponder

SMALL = "text-embedding-3-small"
_shared: dict[str, Any] = {}


def config(url: str) -> dict[str, Any]:
    return {"providers": {"main": {"type": "openai", "base_url": url + "/v1",
                                   "api_key": "sk-standin"}},
            "embeddings": {"default": "docs", "routes": {"docs": {
                "deployments": [f"main/{SMALL}"], "dimensions": 64}}}}


@pytest.fixture(scope="module", autouse=True)
def standin_router() -> Iterator[Router]:
    with StandinServer(OpenAIEmbedResponder()) as server:
        router = Router(config(server.url))
        _shared["router"], _shared["server"] = router, server
        yield router
        router.close()


class TestRoutedEmbeddingsUnit(EmbeddingsUnitTests):
    @property
    def embeddings_class(self) -> type[RoutedEmbeddings]:
        return RoutedEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"router": _shared["router"]}


class TestRoutedEmbeddingsIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[RoutedEmbeddings]:
        return RoutedEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"router": _shared["router"]}


def test_langchain_documents_and_queries_use_their_input_types() -> None:
    server: StandinServer = _shared["server"]
    emb = RoutedEmbeddings(router=_shared["router"])
    docs = emb.embed_documents(["a", "b"])
    query = emb.embed_query("a")
    assert docs == [fake_vector(SMALL, "a", 64), fake_vector(SMALL, "b", 64)]
    assert query == docs[0]  # OpenAI ignores input_type: same vector
    assert emb.embed_documents([]) == []
    assert server.requests[-1].path == "/v1/embeddings"


def test_langchain_builds_and_closes_its_own_router_from_a_config() -> None:
    server: StandinServer = _shared["server"]
    emb = RoutedEmbeddings(config=config(server.url), dimensions=8)
    assert len(emb.embed_query("x")) == 8
    emb.close()


def test_llamaindex_sync_async_and_batch() -> None:
    emb = RoutedEmbedding(router=_shared["router"], embed_batch_size=3)
    texts = [f"node {i}" for i in range(7)]
    expected = [fake_vector(SMALL, t, 64) for t in texts]
    assert emb.get_query_embedding("node 0") == expected[0]
    assert emb.get_text_embedding("node 1") == expected[1]
    assert emb.get_text_embedding_batch(texts) == expected
    assert asyncio.run(emb.aget_query_embedding("node 2")) == expected[2]
    assert asyncio.run(emb.aget_text_embedding("node 3")) == expected[3]
    assert asyncio.run(emb.aget_text_embedding_batch(texts)) == expected
    assert emb.similarity(expected[0], expected[0]) == pytest.approx(1.0, abs=1e-6)


def test_llamaindex_passes_dimensions_and_route() -> None:
    emb = RoutedEmbedding(router=_shared["router"], model=f"main/{SMALL}", dimensions=12)
    assert len(emb.get_text_embedding("x")) == 12
