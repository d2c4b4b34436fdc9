"""Mistral embeddings: ``POST /v1/embeddings``, OpenAI's shape.

From Mistral's API reference (https://docs.mistral.ai/api/#tag/embeddings): ``model``,
``input`` (array of strings), ``output_dimension`` (codestral-embed only),
``output_dtype``; the answer is ``{"data": [{"index", "embedding"}], "usage":
{"prompt_tokens"}}``. Per-request limits are not stated in the reference: 16,000
tokens per request is what langchain-mistralai batches by, and the API refuses more
than 256 inputs ("Too many inputs in request, split into more batches", reported by
rig-core's maintainers); both are used here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from polyroute.embed_types import EmbedLimits, EmbedModelSpec, EmbedRequest, EmbedResult
from polyroute.providers import json_api
from polyroute.providers.base import HttpRequest, HttpResponse
from polyroute.providers.embeddings import (
    EmbeddingSupport,
    openai_embed_body,
    parse_openai_embeddings,
)
from polyroute.types import Capability, ModelInfo, ModelPrices
from polyroute_mistral.provider import MistralProvider

__all__ = ["MISTRAL_EMBEDDING_MODELS", "MistralEmbedProvider", "embedding_model_infos"]

LIMITS = EmbedLimits(max_inputs=256, max_tokens_per_request=16_000, max_tokens_per_input=8192)
MISTRAL_EMBEDDING_MODELS: Mapping[str, EmbedModelSpec] = {s.model: s for s in (
    EmbedModelSpec("mistral-embed", "mistral/mistral-embed", 1024, None, True, LIMITS, 0.10),
    EmbedModelSpec("codestral-embed", "mistral/codestral-embed", 1536,
                   frozenset(range(1, 3073)), True, LIMITS, 0.15),
)}


def embedding_model_infos() -> list[ModelInfo]:
    return [ModelInfo(provider_type="mistral", model=s.model,
                      capabilities=frozenset({Capability.EMBEDDINGS}),
                      prices=ModelPrices(input=s.input_price_per_mtok, output=0.0))
            for s in MISTRAL_EMBEDDING_MODELS.values()]


class MistralEmbedProvider(EmbeddingSupport, MistralProvider):
    embedding_models: ClassVar[Mapping[str, EmbedModelSpec]] = MISTRAL_EMBEDDING_MODELS

    def build_embed_request(self, request: EmbedRequest, model: str) -> HttpRequest:
        body = openai_embed_body(request, model, base64=False,
                                 dimensions_field="output_dimension")
        return json_api.post_json(f"{self.base_url}/embeddings", self.headers(), body,
                                  stream=False)

    def parse_embed_response(self, response: HttpResponse, model: str,
                             request: EmbedRequest) -> EmbedResult:
        return parse_openai_embeddings(response, request, provider=self.name, model=model)
