"""OpenAI embeddings: ``POST /v1/embeddings`` (and Azure's deployment route).

Wire format from the official API reference,
https://platform.openai.com/docs/api-reference/embeddings/create : ``input`` is an
array of at most 2048 strings, each at most 8192 tokens, at most 300,000 tokens
summed over one request; ``dimensions`` (text-embedding-3 and later) shortens the
vector; ``encoding_format: base64`` returns little-endian float32s (what the
official SDK asks for: a third of the bytes of JSON floats). The response's
vectors are normalised to length 1. Errors have chat's shape and classification.

The OpenAI-compatible templates (Groq, Together, vLLM, LM Studio, …) inherit this:
a server that lacks ``/embeddings`` answers 404, a ``NotFoundError`` that falls back
within the space like any other failure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from polyroute.embed_types import EmbedLimits, EmbedModelSpec, EmbedRequest, EmbedResult
from polyroute.providers.base import HttpRequest, HttpResponse
from polyroute.providers.embeddings import (
    EmbeddingSupport,
    openai_embed_body,
    parse_openai_embeddings,
)
from polyroute.types import Capability, ModelInfo, ModelPrices
from polyroute_openai.azure import AzureOpenAIProvider
from polyroute_openai.provider import OpenAIProvider

__all__ = ["OPENAI_EMBEDDING_MODELS", "AzureOpenAIEmbedProvider", "OpenAIEmbedProvider",
           "embedding_model_infos"]

_LIMITS = EmbedLimits(max_inputs=2048, max_tokens_per_request=300_000,
                      max_tokens_per_input=8192)


def _spec(model: str, dims: int, price: float, *, shortenable: bool) -> EmbedModelSpec:
    return EmbedModelSpec(
        model=model, identity=f"openai/{model}", dimensions=dims,
        dimension_options=frozenset(range(1, dims + 1)) if shortenable else None,
        normalized=True, limits=_LIMITS, input_price_per_mtok=price)


OPENAI_EMBEDDING_MODELS: Mapping[str, EmbedModelSpec] = {
    s.model: s for s in (
        _spec("text-embedding-3-small", 1536, 0.02, shortenable=True),
        _spec("text-embedding-3-large", 3072, 0.13, shortenable=True),
        _spec("text-embedding-ada-002", 1536, 0.10, shortenable=False),
    )
}


def embedding_model_infos(provider_type: str = "openai") -> list[ModelInfo]:
    """Catalog entries (capability ``embeddings``, input price) for the price book."""
    return [ModelInfo(provider_type=provider_type, model=s.model,
                      capabilities=frozenset({Capability.EMBEDDINGS}),
                      context_window=s.limits.max_tokens_per_input,
                      prices=ModelPrices(input=s.input_price_per_mtok, output=0.0))
            for s in OPENAI_EMBEDDING_MODELS.values()]


class OpenAIEmbedProvider(EmbeddingSupport, OpenAIProvider):
    """``OpenAIProvider`` with ``/embeddings``; registered under the same type name."""

    embedding_models: ClassVar[Mapping[str, EmbedModelSpec]] = OPENAI_EMBEDDING_MODELS

    def embeddings_url(self, model: str) -> str:
        # the chat URL with its last path segment swapped (Azure keeps ?api-version=)
        return self.endpoint_url(model).replace("/chat/completions", "/embeddings", 1)

    def wants_base64(self) -> bool:
        """base64 for OpenAI and Azure; plain floats for other servers unless
        ``extra.embed_base64`` says they take it (not every compatible server does)."""
        flag = self.settings.extra.get("embed_base64")
        if flag is not None:
            return bool(flag)
        url = (self.settings.base_url or "").rstrip("/")
        return url in ("", self.default_base_url) or type(self) is not OpenAIEmbedProvider

    def build_embed_request(self, request: EmbedRequest, model: str) -> HttpRequest:
        headers = {"content-type": "application/json", "accept": "application/json",
                   **self.request_headers()}
        return HttpRequest("POST", self.embeddings_url(model), headers=headers,
                           json=openai_embed_body(request, model, base64=self.wants_base64()))

    def parse_embed_response(self, response: HttpResponse, model: str,
                             request: EmbedRequest) -> EmbedResult:
        return parse_openai_embeddings(response, request, provider=self.name, model=model)


class AzureOpenAIEmbedProvider(EmbeddingSupport, AzureOpenAIProvider):
    """Azure OpenAI with ``/openai/deployments/{deployment}/embeddings``."""

    embedding_models: ClassVar[Mapping[str, EmbedModelSpec]] = OPENAI_EMBEDDING_MODELS
    embeddings_url = OpenAIEmbedProvider.embeddings_url
    wants_base64 = OpenAIEmbedProvider.wants_base64
    build_embed_request = OpenAIEmbedProvider.build_embed_request
    parse_embed_response = OpenAIEmbedProvider.parse_embed_response
