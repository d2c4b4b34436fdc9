"""OpenAI /v1/embeddings through the shared stand-in suite (the router tests in
tests/embeddings cover base64, dimensions and failover in more detail)."""

from __future__ import annotations

from polyroute.testing.embed_suite import StandinEmbedSuite
from polyroute.testing.embed_vectors import fake_vector
from polyroute_openai import plugin
from polyroute_openai.embed_standin import OpenAIEmbedResponder


class TestOpenAIStandinEmbeddings(StandinEmbedSuite):
    plugin = plugin
    responder = OpenAIEmbedResponder
    provider_type = "openai"
    model = "text-embedding-3-small"
    space_prefix = "openai/text-embedding-3-small"
    embed_path = "/v1/embeddings"
    max_inputs = 2048
    url_suffix = "/v1"
    split_dimensions = 8

    def expected(self, text: str, input_type: str | None, dims: int | None = None
                 ) -> list[float]:
        return fake_vector(self.model, text, dims or 1536)
