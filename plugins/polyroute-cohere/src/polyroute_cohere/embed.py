"""Cohere embeddings: ``POST /v2/embed``.

Wire format from Cohere's API reference (https://docs.cohere.com/reference/embed) and
the same model family on Bedrock
(https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-embed.html):
``texts`` (at most 96 per call), ``input_type`` (``search_document``,
``search_query``, ``classification``, ``clustering``; required from v3 on),
``embedding_types: ["float"]``, ``truncate`` (``NONE``/``START``/``END``),
``output_dimension`` (embed-v4.0: 256, 512, 1024, 1536). The answer:
``{"id", "embeddings": {"float": [[...]]}, "texts", "meta": {"billed_units":
{"input_tokens"}}}``. Errors: chat's table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from polyroute.embed_types import EmbedLimits, EmbedModelSpec, EmbedRequest, EmbedResult
from polyroute.errors import InvalidResponseError
from polyroute.providers import json_api
from polyroute.providers.base import HttpRequest, HttpResponse
from polyroute.providers.bodies import token_count
from polyroute.providers.embeddings import EmbeddingSupport, result
from polyroute.types import Capability, ModelInfo, ModelPrices
from polyroute_cohere.provider import CohereProvider

__all__ = ["COHERE_EMBEDDING_MODELS", "CohereEmbedProvider", "cohere_embed_body",
           "embedding_model_infos", "parse_cohere_embeddings"]

LIMITS = EmbedLimits(max_inputs=96)
INPUT_TYPES = {"document": "search_document", "query": "search_query",
               "classification": "classification", "clustering": "clustering",
               "similarity": "clustering"}
TRUNCATE = {"none": "NONE", "start": "START", "end": "END"}


def _spec(model: str, dims: int, price: float, options: frozenset[int] | None = None
          ) -> EmbedModelSpec:
    return EmbedModelSpec(model=model, identity=f"cohere/{model}", dimensions=dims,
                          dimension_options=options, limits=LIMITS,
                          input_price_per_mtok=price)


COHERE_EMBEDDING_MODELS: Mapping[str, EmbedModelSpec] = {s.model: s for s in (
    _spec("embed-v4.0", 1536, 0.12, frozenset({256, 512, 1024, 1536})),
    _spec("embed-english-v3.0", 1024, 0.10),
    _spec("embed-multilingual-v3.0", 1024, 0.10),
    _spec("embed-english-light-v3.0", 384, 0.10),
    _spec("embed-multilingual-light-v3.0", 384, 0.10),
)}


def embedding_model_infos() -> list[ModelInfo]:
    return [ModelInfo(provider_type="cohere", model=s.model,
                      capabilities=frozenset({Capability.EMBEDDINGS}),
                      prices=ModelPrices(input=s.input_price_per_mtok, output=0.0))
            for s in COHERE_EMBEDDING_MODELS.values()]


def cohere_embed_body(request: EmbedRequest, model: str | None) -> dict[str, Any]:
    """The body shared by Cohere's API (with ``model``) and Bedrock (without)."""
    body: dict[str, Any] = {"texts": list(request.texts),
                            "input_type": INPUT_TYPES[request.input_type or "document"],
                            "embedding_types": ["float"]}
    if model is not None:
        body = {"model": model, **body}
    if request.truncate is not None:
        body["truncate"] = TRUNCATE[request.truncate]
    if request.dimensions is not None:
        body["output_dimension"] = request.dimensions
    return body


def parse_cohere_embeddings(data: Any, request: EmbedRequest, *, provider: str,
                            model: str) -> EmbedResult:
    """``embeddings`` as ``{"float": [...]}`` (typed) or a bare list (v1 shape)."""
    if not isinstance(data, dict):
        raise InvalidResponseError("embed response is not an object",
                                   provider=provider, model=model)
    emb = data.get("embeddings")
    vectors = emb.get("float") if isinstance(emb, dict) else emb
    meta = data.get("meta")
    billed = meta.get("billed_units") if isinstance(meta, dict) else None
    if not isinstance(billed, dict):
        billed = {}
    tokens = token_count(billed.get("input_tokens"), field="meta.billed_units.input_tokens",
                         provider=provider, model=model)
    return result(vectors, request=request, provider=provider, model=model,
                  input_tokens=tokens)


class CohereEmbedProvider(EmbeddingSupport, CohereProvider):
    embedding_models: ClassVar[Mapping[str, EmbedModelSpec]] = COHERE_EMBEDDING_MODELS

    def build_embed_request(self, request: EmbedRequest, model: str) -> HttpRequest:
        return json_api.post_json(f"{self.base_url}/v2/embed", self.headers(),
                                  cohere_embed_body(request, model), stream=False)

    def parse_embed_response(self, response: HttpResponse, model: str,
                             request: EmbedRequest) -> EmbedResult:
        data = json_api.json_body(response, provider=self.name, model=model,
                                  endpoint="/v2/embed")
        return parse_cohere_embeddings(data, request, provider=self.name, model=model)
