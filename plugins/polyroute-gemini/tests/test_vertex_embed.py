"""Vertex AI embeddings (``:predict``): request fields, an answer and errors from the
reference, the shared embedding suite, and one space with the Gemini API.

Bodies here are hand-written from the Vertex AI text embeddings API reference
(https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api),
not recorded."""

from __future__ import annotations

import json
from typing import Any

import pytest

from polyroute.embed_types import EmbedRequest
from polyroute.errors import BadRequestError, InvalidResponseError
from polyroute.providers.base import HttpResponse, ProviderSettings
from polyroute.testing.embed_suite import StandinEmbedSuite
from polyroute.testing.embed_vectors import fake_vector
from polyroute.testing.routers import router_for
from polyroute.testing.standin import Fault, StandinServer
from polyroute_gemini import plugin
from polyroute_gemini.embed_standin import GeminiEmbedResponder
from polyroute_gemini.vertex_embed import VertexEmbedProvider
from polyroute_gemini.vertex_embed_standin import VertexEmbedResponder

PREDICT = ("/v1/projects/proj-1/locations/us-central1/publishers/google/models/"
           "text-embedding-005:predict")


def provider() -> VertexEmbedProvider:
    return VertexEmbedProvider(ProviderSettings(
        name="vx", type="vertex_gemini", api_key="ya29.token-value", project="proj-1"))


def test_instances_carry_task_type_and_parameters_the_dimensionality() -> None:
    http = provider().build_embed_request(
        EmbedRequest(texts=["a", "b"], input_type="query", dimensions=256, truncate="none"),
        "text-embedding-005")
    assert http.url == "https://us-central1-aiplatform.googleapis.com" + PREDICT
    assert http.json == {"instances": [{"content": "a", "task_type": "RETRIEVAL_QUERY"},
                                       {"content": "b", "task_type": "RETRIEVAL_QUERY"}],
                         "parameters": {"outputDimensionality": 256, "autoTruncate": False}}
    assert http.headers["Authorization"] == "Bearer ya29.token-value"
    assert "ya29.token-value" not in repr(http)


def test_a_plain_request_sends_no_parameters() -> None:
    http = provider().build_embed_request(EmbedRequest(texts=["a"]), "gemini-embedding-001")
    assert http.json == {"instances": [{"content": "a"}]}


def test_truncating_the_start_is_refused_before_sending() -> None:
    with pytest.raises(BadRequestError, match="at its end only"):
        provider().build_embed_request(EmbedRequest(texts=["a"], truncate="start"),
                                       "text-embedding-005")


def test_the_answer_gives_vectors_and_token_counts() -> None:
    body = {"predictions": [
        {"embeddings": {"statistics": {"truncated": False, "token_count": 6},
                        "values": [0.6, 0.8]}},
        {"embeddings": {"statistics": {"truncated": True, "token_count": 2048.0},
                        "values": [1.0, 0.0]}}],
        "metadata": {"billableCharacterCount": 9000}}
    out = provider().parse_embed_response(HttpResponse(200, {}, json.dumps(body).encode()),
                                          "text-embedding-005", EmbedRequest(texts=["x", "y"]))
    assert out.vectors == [[0.6, 0.8], [1.0, 0.0]]
    assert out.usage.input_tokens == 2054 and not out.usage_estimated


@pytest.mark.parametrize("body", [{}, {"predictions": "x"}, {"predictions": [{"embeddings": {}}]},
                                  {"predictions": [{"embeddings": {"values": ["a"]}}]}])
def test_a_malformed_answer_is_a_typed_error(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidResponseError):
        provider().parse_embed_response(HttpResponse(200, {}, json.dumps(body).encode()),
                                        "text-embedding-005", EmbedRequest(texts=["x"]))


class TestVertexStandinEmbeddings(StandinEmbedSuite):
    plugin = plugin
    responder = VertexEmbedResponder
    provider_type = "vertex_gemini"
    model = "text-embedding-005"
    space_prefix = "google/text-embedding-005"
    embed_path = PREDICT
    max_inputs = 250
    priced = None  # priced per 1,000 characters on Vertex: no per-token price
    provider_extra = {"project": "proj-1"}

    def expected(self, text: str, input_type: str | None, dims: int | None = None
                 ) -> list[float]:
        task = {"document": "RETRIEVAL_DOCUMENT"}.get(input_type or "")
        return fake_vector(self.model, text, dims or 768, input_type=task)


def test_gemini_embedding_001_goes_one_text_per_request_and_shares_the_gemini_api_space(
) -> None:
    with StandinServer(VertexEmbedResponder()) as vertex, \
            StandinServer(GeminiEmbedResponder()) as gemini:
        cfg = {"providers": {
            "vx": {"type": "vertex_gemini", "base_url": vertex.url, "api_key": "ya29.tok",
                   "project": "proj-1"},
            "g": {"type": "gemini", "base_url": gemini.url, "api_key": "g-key"}},
            "embeddings": {"default": "r", "routes": {"r": {
                "deployments": ["vx/gemini-embedding-001", "g/gemini-embedding-001"],
                "dimensions": 768}}}}
        with router_for(cfg, plugin) as router:
            resp = router.embed(["one", "two", "three"])
            assert resp.provider == "vx" and resp.space == "google/gemini-embedding-001@768"
            assert [len(c["instances"]) for c in vertex.responder.embed_calls] == [1, 1, 1]
            vertex.push(Fault.status(503))
            vertex.push(Fault.status(503))
            vertex.push(Fault.status(503))
            failed_over = router.embed(["four"])
    assert failed_over.provider == "g"  # the same space: Vertex down, the Gemini API answers
    assert failed_over.cross_space is False


@pytest.mark.parametrize("count", [-1, 1e300, float("inf"), "6", True, 10**30])
def test_a_nonsensical_token_count_is_refused(count: Any) -> None:
    body = json.dumps({"predictions": [{"embeddings": {
        "statistics": {"token_count": count}, "values": [1.0]}}]}).encode()
    with pytest.raises(InvalidResponseError, match="token_count"):
        provider().parse_embed_response(HttpResponse(200, {}, body), "text-embedding-005",
                                        EmbedRequest(texts=["x"]))
