"""Bedrock embeddings: ``POST /model/{modelId}/invoke`` (InvokeModel).

Two model families, bodies from the Bedrock user guide:

- Amazon Titan Text Embeddings V2
  (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-titan-embed-text.html):
  ONE text per call, ``{"inputText", "dimensions": 256|512|1024, "normalize": true,
  "embeddingTypes": ["float"]}`` → ``{"embedding": [...], "inputTextTokenCount"}``;
  8,192 tokens per text.
- Cohere Embed on Bedrock
  (https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed.html):
  Cohere's body without ``model`` — at most 96 ``texts``, ``input_type``,
  ``truncate``, ``embedding_types`` → ``{"embeddings": {"float": [...]}}``; the token
  count comes in the ``X-Amzn-Bedrock-Input-Token-Count`` header. These are the same
  weights as Cohere's own API, so the same space: Bedrock and Cohere fail over to
  each other.

Signed (SigV4) or bearer-authenticated like Converse; errors parsed like Converse's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

from polyroute.embed_types import EmbedLimits, EmbedModelSpec, EmbedRequest, EmbedResult
from polyroute.errors import InvalidResponseError
from polyroute.providers import json_api
from polyroute.providers.base import HttpRequest, HttpResponse
from polyroute.providers.bodies import token_count
from polyroute.providers.embeddings import EmbeddingSupport, result
from polyroute.types import Capability, ModelInfo, ModelPrices
from polyroute_bedrock.provider import BedrockProvider

__all__ = ["BEDROCK_EMBEDDING_MODELS", "BedrockEmbedProvider", "embedding_model_infos"]

TITAN = "amazon.titan-embed-text-v2:0"
_COHERE_LIMITS = EmbedLimits(max_inputs=96)
_COHERE_INPUT = {"document": "search_document", "query": "search_query",
                 "classification": "classification", "clustering": "clustering",
                 "similarity": "clustering"}
_TRUNCATE = {"none": "NONE", "start": "START", "end": "END"}
BEDROCK_EMBEDDING_MODELS: Mapping[str, EmbedModelSpec] = {s.model: s for s in (
    EmbedModelSpec(TITAN, "amazon/titan-embed-text-v2", 1024, frozenset({256, 512, 1024}),
                   True, EmbedLimits(max_inputs=1, max_tokens_per_input=8192), 0.02),
    EmbedModelSpec("cohere.embed-english-v3", "cohere/embed-english-v3.0", 1024, None, True,
                   _COHERE_LIMITS, 0.10),
    EmbedModelSpec("cohere.embed-multilingual-v3", "cohere/embed-multilingual-v3.0", 1024,
                   None, True, _COHERE_LIMITS, 0.10),
    EmbedModelSpec("cohere.embed-v4:0", "cohere/embed-v4.0", 1536,
                   frozenset({256, 512, 1024, 1536}), True, _COHERE_LIMITS, 0.12),
)}


def embedding_model_infos() -> list[ModelInfo]:
    return [ModelInfo(provider_type="bedrock", model=s.model,
                      capabilities=frozenset({Capability.EMBEDDINGS}),
                      prices=ModelPrices(input=s.input_price_per_mtok, output=0.0))
            for s in BEDROCK_EMBEDDING_MODELS.values()]


def embed_body(request: EmbedRequest, model: str) -> dict[str, Any]:
    if model.startswith("amazon.titan-embed"):
        body: dict[str, Any] = {"inputText": request.texts[0], "normalize": True,
                                "embeddingTypes": ["float"]}
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        return body
    body = {"texts": list(request.texts),
            "input_type": _COHERE_INPUT[request.input_type or "document"],
            "embedding_types": ["float"]}
    if request.truncate is not None:
        body["truncate"] = _TRUNCATE[request.truncate]
    if request.dimensions is not None:
        body["output_dimension"] = request.dimensions
    return body


class BedrockEmbedProvider(EmbeddingSupport, BedrockProvider):
    embedding_models: ClassVar[Mapping[str, EmbedModelSpec]] = BEDROCK_EMBEDDING_MODELS

    def build_embed_request(self, request: EmbedRequest, model: str) -> HttpRequest:
        if model.startswith("amazon.titan-embed") and len(request.texts) != 1:
            raise InvalidResponseError("Titan embeddings take one text per call (the router "
                                       "splits by EmbedLimits.max_inputs=1)",
                                       provider=self.name, model=model)
        body = embed_body(request, model)
        url = f"{self.base_url}/model/{quote(model, safe='')}/invoke"
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {"content-type": "application/json", "accept": "application/json",
                   **self.settings.headers}
        return HttpRequest("POST", url,
                           headers=self.auth.headers("POST", url, content, headers, self.region),
                           json=body, content=content)

    def parse_embed_response(self, response: HttpResponse, model: str,
                             request: EmbedRequest) -> EmbedResult:
        data = json_api.json_body(response, provider=self.name, model=model,
                                  endpoint="InvokeModel")
        if not isinstance(data, dict):
            raise InvalidResponseError("InvokeModel answer is not an object",
                                       provider=self.name, model=model)
        if model.startswith("amazon.titan-embed"):
            by_type = data.get("embeddingsByType")
            vec = by_type.get("float") if isinstance(by_type, dict) else data.get("embedding")
            tokens = token_count(data.get("inputTextTokenCount"), field="inputTextTokenCount",
                                 provider=self.name, model=model)
            return result([vec], request=request, provider=self.name, model=model,
                          input_tokens=tokens)
        emb = data.get("embeddings")
        vectors = emb.get("float") if isinstance(emb, dict) else emb
        header = response.headers.get("x-amzn-bedrock-input-token-count")
        tokens = token_count(int(header) if header and header.isdigit() else None,
                             field="X-Amzn-Bedrock-Input-Token-Count",
                             provider=self.name, model=model)
        return result(vectors, request=request, provider=self.name, model=model,
                      input_tokens=tokens)
