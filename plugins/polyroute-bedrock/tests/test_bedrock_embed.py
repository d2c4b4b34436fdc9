"""Bedrock InvokeModel embeddings: Titan Text Embeddings V2 and Cohere Embed bodies,
responses from the user guide, SigV4 on the invoke path, and the stand-in suite.

Response bodies here are hand-written from the Bedrock user guide's model-parameter
pages (not recorded)."""

from __future__ import annotations

import json

from polyroute.embed_types import EmbedRequest
from polyroute.providers.base import HttpResponse, ProviderSettings
from polyroute.testing.embed_suite import StandinEmbedSuite
from polyroute.testing.embed_vectors import fake_vector
from polyroute.testing.routers import router_for
from polyroute.testing.standin import StandinServer
from polyroute_bedrock import plugin
from polyroute_bedrock.embed import TITAN, BedrockEmbedProvider
from polyroute_bedrock.embed_standin import BedrockEmbedResponder

AKID, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def provider() -> BedrockEmbedProvider:
    return BedrockEmbedProvider(ProviderSettings(
        name="br", type="bedrock", api_key="ABSK-key-0123456789", extra={"region": "eu-west-1"}))


def test_titan_body_one_text() -> None:
    http = provider().build_embed_request(EmbedRequest(texts=["hi"], dimensions=512), TITAN)
    assert http.url == ("https://bedrock-runtime.eu-west-1.amazonaws.com/model/"
                        "amazon.titan-embed-text-v2%3A0/invoke")
    assert http.json == {"inputText": "hi", "normalize": True, "embeddingTypes": ["float"],
                         "dimensions": 512}


def test_cohere_body_has_no_model_field() -> None:
    http = provider().build_embed_request(EmbedRequest(texts=["a", "b"], input_type="query"),
                                          "cohere.embed-english-v3")
    assert http.json == {"texts": ["a", "b"], "input_type": "search_query",
                         "embedding_types": ["float"]}


def test_titan_and_cohere_responses_from_the_guide() -> None:
    titan = {"embedding": [0.1, 0.2], "inputTextTokenCount": 3,
             "embeddingsByType": {"float": [0.1, 0.2]}}
    out = provider().parse_embed_response(HttpResponse(200, {}, json.dumps(titan).encode()),
                                          TITAN, EmbedRequest(texts=["x"]))
    assert out.vectors == [[0.1, 0.2]] and out.usage.input_tokens == 3
    cohere = {"id": "c1", "texts": ["x"], "response_type": "embeddings_by_type",
              "embeddings": {"float": [[0.5, 0.5]]}}
    out = provider().parse_embed_response(
        HttpResponse(200, {"x-amzn-bedrock-input-token-count": "7"},
                     json.dumps(cohere).encode()), "cohere.embed-english-v3",
        EmbedRequest(texts=["x"]))
    assert out.vectors == [[0.5, 0.5]] and out.usage.input_tokens == 7


def test_sigv4_signed_invoke_is_accepted() -> None:
    with StandinServer(BedrockEmbedResponder(credentials=(AKID, SECRET))) as server:
        cfg = {"providers": {"aws": {"type": "bedrock", "base_url": server.url, "extra": {
            "region": "us-east-1", "aws_access_key_id": AKID,
            "aws_secret_access_key": SECRET}}}}
        with router_for(cfg, plugin) as router:
            resp = router.embed(["signed text"], model=f"aws/{TITAN}", dimensions=256)
        assert resp.vectors == [fake_vector(TITAN, "signed text", 256)]
        assert server.responder.auth_failures == []
        assert SECRET not in repr(server.requests)


class TestBedrockTitanStandinEmbeddings(StandinEmbedSuite):
    plugin = plugin
    responder = BedrockEmbedResponder
    provider_type = "bedrock"
    model = TITAN
    space_prefix = "amazon/titan-embed-text-v2"
    embed_path = "/model/amazon.titan-embed-text-v2%3A0/invoke"
    max_inputs = 1
    provider_extra = {"extra": {"region": "us-east-1"}}

    def expected(self, text: str, input_type: str | None, dims: int | None = None
                 ) -> list[float]:
        return fake_vector(self.model, text, dims or 1024)
