"""Mistral /v1/embeddings: the request body, a response from the reference, the suite.

Response bodies here are hand-written from https://docs.mistral.ai/api/#tag/embeddings
(not recorded)."""

from __future__ import annotations

import json

from polyroute.embed_types import EmbedRequest
from polyroute.providers.base import HttpResponse, ProviderSettings
from polyroute.testing.embed_suite import StandinEmbedSuite
from polyroute.testing.embed_vectors import fake_vector
from polyroute_mistral import plugin
from polyroute_mistral.embed import MistralEmbedProvider
from polyroute_mistral.embed_standin import MistralEmbedResponder


def provider() -> MistralEmbedProvider:
    return MistralEmbedProvider(ProviderSettings(name="mi", type="mistral", api_key="mi-key"))


def test_request_body_and_dimension_field() -> None:
    http = provider().build_embed_request(EmbedRequest(texts=["a"], dimensions=256),
                                          "codestral-embed")
    assert http.url == "https://api.mistral.ai/v1/embeddings"
    assert http.json == {"model": "codestral-embed", "input": ["a"], "output_dimension": 256}


def test_reference_response_is_parsed() -> None:
    body = {"id": "embd-aad6fc62b17349b192ef09225058bc45", "object": "list",
            "data": [{"object": "embedding", "embedding": [-0.0165, 0.0703], "index": 0}],
            "model": "mistral-embed",
            "usage": {"prompt_tokens": 6, "total_tokens": 6, "completion_tokens": 0}}
    out = provider().parse_embed_response(HttpResponse(200, {}, json.dumps(body).encode()),
                                          "mistral-embed", EmbedRequest(texts=["x"]))
    assert out.vectors == [[-0.0165, 0.0703]] and out.usage.input_tokens == 6


class TestMistralStandinEmbeddings(StandinEmbedSuite):
    plugin = plugin
    responder = MistralEmbedResponder
    provider_type = "mistral"
    model = "mistral-embed"
    space_prefix = "mistral/mistral-embed"
    embed_path = "/v1/embeddings"
    max_inputs = 256
    url_suffix = "/v1"

    def expected(self, text: str, input_type: str | None, dims: int | None = None
                 ) -> list[float]:
        return fake_vector(self.model, text, dims or 1024)


def test_batches_are_also_split_by_the_token_limit() -> None:
    """200 texts (within the 256-input limit) of 100+ tokens each: the 16,000-token
    limit per request is what cuts them."""
    from polyroute.testing.routers import router_for
    from polyroute.testing.standin import StandinServer

    texts = [" ".join(f"w{i}x{j}" for j in range(100)) for i in range(200)]
    with StandinServer(MistralEmbedResponder()) as server:
        cfg = {"providers": {"mi": {"type": "mistral", "base_url": server.url + "/v1",
                                    "api_key": "mi-key"}}}
        with router_for(cfg, plugin) as router:
            resp = router.embed(texts, model="mi/mistral-embed")
        sizes = [len(r.json()["input"]) for r in server.requests]
    assert len(sizes) >= 2 and max(sizes) < 200  # 200 inputs fit the input limit: tokens cut
    assert resp.vectors == [fake_vector("mistral-embed", t, 1024) for t in texts]
