"""Vertex AI text embeddings: ``…/publishers/google/models/{model}:predict``.

From the Vertex AI text embeddings API reference
(https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api)
and "Get text embeddings" (…/docs/embeddings/get-text-embeddings): the body is
``{"instances": [{"content", "task_type"}], "parameters": {"autoTruncate",
"outputDimensionality"}}``; the answer ``{"predictions": [{"embeddings": {"values",
"statistics": {"token_count", "truncated"}}}]}``. Limits: 250 input texts and 20,000
tokens per request, 2,048 tokens per text; ``gemini-embedding-001`` takes one
instance per request. ``autoTruncate`` is on by default (a long text is cut at its
end); ``truncate: none`` turns it off so a long text is refused. Vectors are unit
length at every width (the page says so), so every Vertex space here is normalised.

``gemini-embedding-001`` is the same model as on the Gemini API: one embedding space
(``google/gemini-embedding-001``), so a route may fail over between the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from polyroute.embed_types import EmbedLimits, EmbedModelSpec, EmbedRequest, EmbedResult
from polyroute.errors import BadRequestError, InvalidResponseError
from polyroute.providers import json_api
from polyroute.providers.base import HttpRequest, HttpResponse
from polyroute.providers.embeddings import EmbeddingSupport, result
from polyroute.types import Capability, ModelInfo, ModelPrices
from polyroute_gemini.embed import TASK_TYPES
from polyroute_gemini.provider import VertexGeminiProvider

__all__ = ["VERTEX_EMBEDDING_MODELS", "VertexEmbedProvider", "vertex_embedding_model_infos"]

_MAX_TOKENS = 10**9  # per text; the model reads 2,048: more is a broken answer
_TEXT_LIMITS = EmbedLimits(max_inputs=250, max_tokens_per_request=20_000,
                           max_tokens_per_input=2048)
# Prices: gemini-embedding-001 is $0.15 per 1M input tokens on Vertex as on the Gemini
# API; the text-embedding models are priced per 1,000 characters, which a per-token
# price book cannot state: unpriced (the ledger counts them as such).
VERTEX_EMBEDDING_MODELS: Mapping[str, EmbedModelSpec] = {s.model: s for s in (
    EmbedModelSpec("gemini-embedding-001", "google/gemini-embedding-001", 3072,
                   frozenset(range(128, 3073)), True,
                   EmbedLimits(max_inputs=1, max_tokens_per_input=2048), 0.15),
    EmbedModelSpec("text-embedding-005", "google/text-embedding-005", 768,
                   frozenset(range(1, 769)), True, _TEXT_LIMITS, None),
    EmbedModelSpec("text-embedding-004", "google/text-embedding-004", 768,
                   frozenset(range(1, 769)), True, _TEXT_LIMITS, None),
    EmbedModelSpec("text-multilingual-embedding-002", "google/text-multilingual-embedding-002",
                   768, frozenset(range(1, 769)), True, _TEXT_LIMITS, None),
)}


def vertex_embedding_model_infos() -> list[ModelInfo]:
    return [ModelInfo(provider_type="vertex_gemini", model=s.model,
                      capabilities=frozenset({Capability.EMBEDDINGS}),
                      prices=ModelPrices(input=s.input_price_per_mtok,
                                         output=0.0 if s.input_price_per_mtok else None))
            for s in VERTEX_EMBEDDING_MODELS.values()]


class VertexEmbedProvider(EmbeddingSupport, VertexGeminiProvider):
    embedding_models: ClassVar[Mapping[str, EmbedModelSpec]] = VERTEX_EMBEDDING_MODELS

    def build_embed_request(self, request: EmbedRequest, model: str) -> HttpRequest:
        if request.truncate == "start":
            raise BadRequestError(
                "Vertex AI embeddings cut a long text at its end only (autoTruncate); "
                "truncate: start is not offered", provider=self.name, model=model)
        instances = []
        for text in request.texts:
            item: dict[str, Any] = {"content": text}
            if request.input_type is not None:
                item["task_type"] = TASK_TYPES[request.input_type]
            instances.append(item)
        parameters: dict[str, Any] = {}
        if request.dimensions is not None:
            parameters["outputDimensionality"] = request.dimensions
        if request.truncate is not None:
            parameters["autoTruncate"] = request.truncate != "none"
        body: dict[str, Any] = {"instances": instances}
        if parameters:
            body["parameters"] = parameters
        url = f"{self.base_url}/{self.api_version}/{self.model_path(model)}:predict"
        return json_api.post_json(url, self.headers(), body, stream=False)

    def parse_embed_response(self, response: HttpResponse, model: str,
                             request: EmbedRequest) -> EmbedResult:
        data = json_api.json_body(response, provider=self.name, model=model,
                                  endpoint="predict")
        rows = data.get("predictions") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise InvalidResponseError("predict answer has no 'predictions' list",
                                       provider=self.name, model=model)
        vectors: list[Any] = []
        tokens = 0
        for row in rows:
            emb = row.get("embeddings") if isinstance(row, dict) else None
            vectors.append(emb.get("values") if isinstance(emb, dict) else emb)
            stats = emb.get("statistics") if isinstance(emb, dict) else None
            count = stats.get("token_count") if isinstance(stats, dict) else None
            if count is None:
                continue
            if isinstance(count, bool) or not isinstance(count, (int, float)) \
                    or not 0 <= count <= _MAX_TOKENS:  # NaN fails both comparisons
                raise InvalidResponseError(
                    f"predict answer has a nonsensical statistics.token_count ({count!r:.40})",
                    provider=self.name, model=model)
            tokens += int(count)  # a float in the JSON ("6.0" in some answers)
        return result(vectors, request=request, provider=self.name, model=model,
                      input_tokens=tokens)
