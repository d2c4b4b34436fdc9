"""Ollama /api/embed: the request body, a response from the reference, the suite.

Response bodies here are hand-written from Ollama's docs/api.md "Generate Embeddings"
(not recorded)."""

from __future__ import annotations

import json

from polyroute.embed_types import EmbedRequest
from polyroute.providers.base import HttpResponse, ProviderSettings
from polyroute.testing.embed_suite import StandinEmbedSuite
from polyroute.testing.embed_vectors import fake_vector
from polyroute_ollama import plugin
from polyroute_ollama.embed import OllamaEmbedProvider
from polyroute_ollama.embed_standin import OllamaEmbedResponder


def provider() -> OllamaEmbedProvider:
    return OllamaEmbedProvider(ProviderSettings(name="o", type="ollama",
                                                base_url="http://127.0.0.1:11434"))


def test_request_body() -> None:
    http = provider().build_embed_request(EmbedRequest(texts=["a"], truncate="none"),
                                          "all-minilm")
    assert http.url == "http://127.0.0.1:11434/api/embed"
    assert http.json == {"model": "all-minilm", "input": ["a"], "truncate": False}


def test_reference_response_is_parsed() -> None:
    body = {"model": "all-minilm", "embeddings": [[0.010071029, -0.0017594862]],
            "total_duration": 14143917, "load_duration": 1019500, "prompt_eval_count": 8}
    out = provider().parse_embed_response(HttpResponse(200, {}, json.dumps(body).encode()),
                                          "all-minilm", EmbedRequest(texts=["x"]))
    assert out.vectors == body["embeddings"] and out.usage.input_tokens == 8


class TestOllamaStandinEmbeddings(StandinEmbedSuite):
    plugin = plugin
    responder = OllamaEmbedResponder
    provider_type = "ollama"
    model = "nomic-embed-text"
    space_prefix = "nomic-ai/nomic-embed-text-v1.5"
    embed_path = "/api/embed"
    priced = False

    def expected(self, text: str, input_type: str | None, dims: int | None = None
                 ) -> list[float]:
        return fake_vector(self.model, text, dims or 768)
