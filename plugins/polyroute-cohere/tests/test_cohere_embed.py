"""Cohere /v2/embed: the request body, a response from the reference, and the stand-in suite.

The response bodies here are hand-written from https://docs.cohere.com/reference/embed
(not recorded)."""

from __future__ import annotations

import json

import pytest

from polyroute.embed_types import EmbedRequest
from polyroute.errors import InvalidResponseError
from polyroute.providers.base import HttpResponse, ProviderSettings
from polyroute.testing.embed_suite import StandinEmbedSuite
from polyroute.testing.embed_vectors import fake_vector
from polyroute_cohere import plugin
from polyroute_cohere.embed import CohereEmbedProvider
from polyroute_cohere.embed_standin import CohereEmbedResponder


def provider() -> CohereEmbedProvider:
    return CohereEmbedProvider(ProviderSettings(name="co", type="cohere", api_key="co-key"))


def test_request_maps_input_type_truncate_and_dimension() -> None:
    req = EmbedRequest(texts=["a", "b"], input_type="query", truncate="end", dimensions=512)
    http = provider().build_embed_request(req, "embed-v4.0")
    assert http.url == "https://api.cohere.com/v2/embed"
    assert http.json == {"model": "embed-v4.0", "texts": ["a", "b"],
                         "input_type": "search_query", "embedding_types": ["float"],
                         "truncate": "END", "output_dimension": 512}
    assert http.headers["Authorization"] == "Bearer co-key"
    assert "co-key" not in repr(http)


def test_documents_are_search_documents_by_default() -> None:
    http = provider().build_embed_request(EmbedRequest(texts=["a"]), "embed-english-v3.0")
    assert http.json["input_type"] == "search_document"


def test_reference_response_is_parsed() -> None:
    body = {"id": "da6e531f", "texts": ["hello", "goodbye"],
            "embeddings": {"float": [[0.016296387, 0.008354187], [0.04663086, -0.023239136]]},
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": 2}},
            "response_type": "embeddings_by_type"}
    out = provider().parse_embed_response(HttpResponse(200, {}, json.dumps(body).encode()),
                                          "embed-v4.0", EmbedRequest(texts=["hello", "goodbye"]))
    assert out.vectors == body["embeddings"]["float"] and out.usage.input_tokens == 2


@pytest.mark.parametrize("body", [{}, {"embeddings": {"int8": [[1]]}},
                                  {"embeddings": {"float": [[1.0]]}},
                                  {"embeddings": {"float": [[1.0], [None]]}},
                                  {"embeddings": {"float": [[1.0], [2.0]]},
                                   "meta": {"billed_units": {"input_tokens": -1}}}])
def test_hostile_bodies_are_typed_errors(body: object) -> None:
    with pytest.raises(InvalidResponseError):
        provider().parse_embed_response(HttpResponse(200, {}, json.dumps(body).encode()),
                                        "embed-v4.0", EmbedRequest(texts=["a", "b"]))


class TestCohereStandinEmbeddings(StandinEmbedSuite):
    plugin = plugin
    responder = CohereEmbedResponder
    provider_type = "cohere"
    model = "embed-english-v3.0"
    space_prefix = "cohere/embed-english-v3.0"
    embed_path = "/v2/embed"
    max_inputs = 96

    def expected(self, text: str, input_type: str | None, dims: int | None = None
                 ) -> list[float]:
        return fake_vector(self.model, text, dims or 1024, input_type="search_document")
