"""Gemini API embeddings: ``models/{model}:batchEmbedContents``.

From the Gemini API reference (https://ai.google.dev/api/embeddings): each request
item is ``{"model": "models/{model}", "content": {"parts": [{"text"}]}, "taskType",
"outputDimensionality"}``; at most 100 items per batch; the answer is
``{"embeddings": [{"values": [...]}]}`` with no token count (polyroute prices its
own estimate, and says so in ``response_metadata.usage_estimated``).
gemini-embedding-001 answers unit vectors only at its full 3072 dimensions; the
reference asks callers to normalise shorter ones, which this parser does, so every
Gemini space here is normalised. Vertex AI's ``predict`` is ``vertex_embed.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

from polyroute.embed_types import EmbedLimits, EmbedModelSpec, EmbedRequest, EmbedResult
from polyroute.errors import InvalidResponseError
from polyroute.providers import json_api
from polyroute.providers.base import HttpRequest, HttpResponse
from polyroute.providers.embeddings import EmbeddingSupport, result
from polyroute.types import Capability, ModelInfo, ModelPrices
from polyroute_gemini.provider import GeminiProvider

__all__ = ["GEMINI_EMBEDDING_MODELS", "GeminiEmbedProvider", "embedding_model_infos"]

TASK_TYPES = {"document": "RETRIEVAL_DOCUMENT", "query": "RETRIEVAL_QUERY",
              "classification": "CLASSIFICATION", "clustering": "CLUSTERING",
              "similarity": "SEMANTIC_SIMILARITY"}
GEMINI_EMBEDDING_MODELS: Mapping[str, EmbedModelSpec] = {s.model: s for s in (
    EmbedModelSpec("gemini-embedding-001", "google/gemini-embedding-001", 3072,
                   frozenset(range(128, 3073)), True,
                   EmbedLimits(max_inputs=100, max_tokens_per_input=2048), 0.15),
    EmbedModelSpec("text-embedding-004", "google/text-embedding-004", 768,
                   frozenset(range(1, 769)), True,
                   EmbedLimits(max_inputs=100, max_tokens_per_input=2048), None),
)}


def embedding_model_infos() -> list[ModelInfo]:
    return [ModelInfo(provider_type="gemini", model=s.model,
                      capabilities=frozenset({Capability.EMBEDDINGS}),
                      prices=ModelPrices(input=s.input_price_per_mtok,
                                         output=0.0 if s.input_price_per_mtok else None))
            for s in GEMINI_EMBEDDING_MODELS.values()]


def _unit(vec: Any) -> Any:
    if not isinstance(vec, list) or not vec or not all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in vec):
        return vec  # check_vectors names the problem
    try:
        norm = math.sqrt(sum(float(x) * float(x) for x in vec))
    except OverflowError:  # an integer past 1e308: check_vectors names it
        return vec
    if not (norm > 0 and math.isfinite(norm)) or abs(norm - 1.0) < 1e-4:
        return vec  # already unit length (the full width): kept exactly as sent
    return [float(x) / norm for x in vec]


class GeminiEmbedProvider(EmbeddingSupport, GeminiProvider):
    embedding_models: ClassVar[Mapping[str, EmbedModelSpec]] = GEMINI_EMBEDDING_MODELS

    def build_embed_request(self, request: EmbedRequest, model: str) -> HttpRequest:
        path = self.model_path(model)
        items = []
        for text in request.texts:
            item: dict[str, Any] = {"model": path, "content": {"parts": [{"text": text}]}}
            if request.input_type is not None:
                item["taskType"] = TASK_TYPES[request.input_type]
            if request.dimensions is not None:
                item["outputDimensionality"] = request.dimensions
            items.append(item)
        url = f"{self.base_url}/{self.api_version}/{path}:batchEmbedContents"
        return json_api.post_json(url, self.headers(), {"requests": items}, stream=False)

    def parse_embed_response(self, response: HttpResponse, model: str,
                             request: EmbedRequest) -> EmbedResult:
        data = json_api.json_body(response, provider=self.name, model=model,
                                  endpoint="batchEmbedContents")
        rows = data.get("embeddings") if isinstance(data, dict) else None
        if not isinstance(rows, list):
            raise InvalidResponseError("batchEmbedContents answer has no 'embeddings' list",
                                       provider=self.name, model=model)
        vectors = [_unit(r.get("values")) if isinstance(r, dict) else r for r in rows]
        return result(vectors, request=request, provider=self.name, model=model)
