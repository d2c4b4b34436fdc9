"""Ollama embeddings: ``POST /api/embed``.

From Ollama's API reference (https://github.com/ollama/ollama/blob/main/docs/api.md,
"Generate Embeddings"): ``{"model", "input": [..], "truncate": bool, "dimensions"}``;
the answer ``{"model", "embeddings": [[...]], "prompt_eval_count"}`` with unit-length
vectors. No stated per-request limit. Local models cost nothing; a model the catalog
does not list is its own space (``ollama-model@?``) unless a route names its
``space``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from polyroute.embed_types import EmbedModelSpec, EmbedRequest, EmbedResult
from polyroute.errors import InvalidResponseError
from polyroute.providers import json_api
from polyroute.providers.base import HttpRequest, HttpResponse
from polyroute.providers.bodies import token_count
from polyroute.providers.embeddings import EmbeddingSupport, result
from polyroute.types import Capability, ModelInfo, ModelPrices
from polyroute_ollama.provider import OllamaProvider

__all__ = ["OLLAMA_EMBEDDING_MODELS", "OllamaEmbedProvider", "embedding_model_infos"]

OLLAMA_EMBEDDING_MODELS: Mapping[str, EmbedModelSpec] = {s.model: s for s in (
    EmbedModelSpec("nomic-embed-text", "nomic-ai/nomic-embed-text-v1.5", 768,
                   input_price_per_mtok=0.0),
    EmbedModelSpec("mxbai-embed-large", "mixedbread-ai/mxbai-embed-large-v1", 1024,
                   input_price_per_mtok=0.0),
    EmbedModelSpec("all-minilm", "sentence-transformers/all-MiniLM-L6-v2", 384,
                   input_price_per_mtok=0.0),
)}


def embedding_model_infos() -> list[ModelInfo]:
    return [ModelInfo(provider_type="ollama", model=s.model,
                      capabilities=frozenset({Capability.EMBEDDINGS}),
                      prices=ModelPrices(input=0.0, output=0.0))
            for s in OLLAMA_EMBEDDING_MODELS.values()]


class OllamaEmbedProvider(EmbeddingSupport, OllamaProvider):
    embedding_models: ClassVar[Mapping[str, EmbedModelSpec]] = OLLAMA_EMBEDDING_MODELS

    def build_embed_request(self, request: EmbedRequest, model: str) -> HttpRequest:
        body: dict[str, Any] = {"model": model, "input": list(request.texts)}
        if request.truncate is not None:
            body["truncate"] = request.truncate != "none"
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        return HttpRequest("POST", f"{self.base_url}/api/embed",
                           headers={"content-type": "application/json", **self.headers()},
                           json=body)

    def parse_embed_response(self, response: HttpResponse, model: str,
                             request: EmbedRequest) -> EmbedResult:
        data = json_api.json_body(response, provider=self.name, model=model,
                                  endpoint="/api/embed")
        if not isinstance(data, dict):
            raise InvalidResponseError("/api/embed answer is not an object",
                                       provider=self.name, model=model)
        tokens = token_count(data.get("prompt_eval_count"), field="prompt_eval_count",
                             provider=self.name, model=model)
        return result(data.get("embeddings"), request=request, provider=self.name,
                      model=model, input_tokens=tokens)
