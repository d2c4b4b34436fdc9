"""Gemini batchEmbedContents: request items, a response from the reference, the suite.

Response bodies here are hand-written from https://ai.google.dev/api/embeddings (not
recorded)."""

from __future__ import annotations

import json
import math

from polyroute.embed_types import EmbedRequest
from polyroute.providers.base import HttpResponse, ProviderSettings
from polyroute.testing.embed_suite import StandinEmbedSuite
from polyroute_gemini import plugin
from polyroute_gemini.embed import GeminiEmbedProvider, _unit
from polyroute_gemini.embed_standin import GeminiEmbedResponder, gemini_vector


def provider() -> GeminiEmbedProvider:
    return GeminiEmbedProvider(ProviderSettings(name="g", type="gemini", api_key="g-key"))


def test_request_items_carry_task_type_and_dimensionality() -> None:
    http = provider().build_embed_request(
        EmbedRequest(texts=["a", "b"], input_type="query", dimensions=768),
        "gemini-embedding-001")
    assert http.url == ("https://generativelanguage.googleapis.com/v1beta/models/"
                        "gemini-embedding-001:batchEmbedContents")
    assert http.json["requests"][1] == {
        "model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]},
        "taskType": "RETRIEVAL_QUERY", "outputDimensionality": 768}
    assert http.headers["x-goog-api-key"] == "g-key" and "g-key" not in repr(http)


def test_shortened_vectors_are_normalised() -> None:
    body = {"embeddings": [{"values": [3.0, 4.0]}]}
    out = provider().parse_embed_response(HttpResponse(200, {}, json.dumps(body).encode()),
                                          "gemini-embedding-001", EmbedRequest(texts=["x"]))
    assert out.vectors == [[0.6, 0.8]]
    assert out.usage.input_tokens == 0  # Gemini reports none: the router estimates


class TestGeminiStandinEmbeddings(StandinEmbedSuite):
    plugin = plugin
    responder = GeminiEmbedResponder
    provider_type = "gemini"
    model = "gemini-embedding-001"
    space_prefix = "google/gemini-embedding-001"
    embed_path = "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    max_inputs = 100
    split_dimensions = 128

    def expected(self, text: str, input_type: str | None, dims: int | None = None
                 ) -> list[float]:
        task = {"document": "RETRIEVAL_DOCUMENT"}.get(input_type or "")
        # what the stand-in sends, normalised as the parser does
        return _unit(gemini_vector(self.model, text, dims or 3072, task))  # type: ignore[no-any-return]

    def test_estimated_usage_is_said(self, router, servers) -> None:  # type: ignore[no-untyped-def]
        resp = router.embed(["four words right here"], dimensions=256)
        assert resp.response_metadata["usage_estimated"] is True
        assert resp.usage.input_tokens > 0
        assert math.isclose(sum(x * x for x in resp.vectors[0]), 1.0, rel_tol=1e-5)
