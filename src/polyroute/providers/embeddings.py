"""The sans-IO embeddings contract a provider adds beside chat.

A plugin whose provider has an embeddings endpoint mixes ``EmbeddingSupport`` into
its ``Provider`` class and registers that class through the usual
``polyroute_register_provider_types`` hook: no new hook. The router asks
``supports_embeddings(provider)`` and never sends an embedding call anywhere
else — a provider without the mixin is skipped, never sent to its chat endpoint
(LiteLLM issue #14403: an embedding fallback that called the chat endpoint and hung).

Like chat, the provider only describes the request (``build_embed_request``) and
reads the answer (``parse_embed_response``; errors: ``parse_error``, classified
as for chat); the core's transport does the IO.
"""

from __future__ import annotations

import base64
import math
import struct
from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

from polyroute.embed_types import EmbedModelSpec, EmbedRequest, EmbedResult, check_vectors
from polyroute.errors import InvalidResponseError
from polyroute.providers.base import HttpRequest, HttpResponse, Provider
from polyroute.providers.bodies import load_json

__all__ = [
    "EmbeddingSupport", "decode_float32_base64", "openai_embed_body", "parse_openai_embeddings",
    "result", "supports_embeddings",
]


class EmbeddingSupport:
    """Mixin for a ``Provider`` with an embeddings endpoint."""

    embedding_models: ClassVar[Mapping[str, EmbedModelSpec]] = {}
    """The embedding models this provider type knows (limits, dimensions, identity)."""

    def embed_spec(self, model: str) -> EmbedModelSpec | None:
        """What is known about ``model``; ``None`` for a model the catalog does not list
        (it may still be called: a route then gives its space)."""
        return self.embedding_models.get(model)

    @abstractmethod
    def build_embed_request(self, request: EmbedRequest, model: str) -> HttpRequest:
        """The HTTP request embedding ``request.texts`` (one sub-batch) with ``model``."""

    @abstractmethod
    def parse_embed_response(self, response: HttpResponse, model: str,
                             request: EmbedRequest) -> EmbedResult:
        """A 2xx body as one vector per text of ``request``, in its order."""


def supports_embeddings(provider: Provider | None) -> bool:
    return isinstance(provider, EmbeddingSupport)


def decode_float32_base64(data: Any, *, provider: str, model: str) -> list[float]:
    """OpenAI's ``encoding_format: base64``: little-endian float32s, base64-encoded."""
    if not isinstance(data, str):
        raise InvalidResponseError("base64 embedding is not a string",
                                   provider=provider, model=model)
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError as exc:
        raise InvalidResponseError(f"base64 embedding does not decode ({exc})",
                                   provider=provider, model=model) from exc
    if not raw or len(raw) % 4:
        raise InvalidResponseError(
            f"base64 embedding has {len(raw)} bytes, not a whole number of float32s",
            provider=provider, model=model)
    values = list(struct.unpack(f"<{len(raw) // 4}f", raw))
    if not all(math.isfinite(v) for v in values):
        raise InvalidResponseError("base64 embedding holds a non-finite value",
                                   provider=provider, model=model)
    return values


def result(vectors: Any, *, request: EmbedRequest, provider: str, model: str,
           input_tokens: int = 0, response_model: str | None = None) -> EmbedResult:
    """An ``EmbedResult`` after ``check_vectors`` (count, finiteness, one width)."""
    from polyroute.types import Usage

    checked = check_vectors(vectors, count=len(request.texts), dimensions=request.dimensions,
                            provider=provider, model=model)
    return EmbedResult(vectors=checked, usage=Usage(input_tokens=input_tokens),
                       response_model=response_model)


def openai_embed_body(request: EmbedRequest, model: str, *, base64: bool,
                      dimensions_field: str | None = "dimensions") -> dict[str, Any]:
    """The body of OpenAI's ``POST /v1/embeddings`` (also Mistral's, vLLM's, Ollama's
    ``/v1``): ``input`` (array of strings), ``model``, ``dimensions`` when asked,
    ``encoding_format``. Reference: https://platform.openai.com/docs/api-reference/embeddings/create"""
    body: dict[str, Any] = {"model": model, "input": list(request.texts)}
    if request.dimensions is not None and dimensions_field:
        body[dimensions_field] = request.dimensions
    if base64:
        body["encoding_format"] = "base64"
    return body


def parse_openai_embeddings(response: HttpResponse, request: EmbedRequest, *, provider: str,
                            model: str) -> EmbedResult:
    """``{"object": "list", "data": [{"index", "embedding"}], "model", "usage":
    {"prompt_tokens", "total_tokens"}}``; ``embedding`` a float array or, with
    ``encoding_format: base64``, a base64 string of float32s. Rows are put back in
    ``index`` order (the API does not promise array order)."""
    from polyroute.providers.bodies import token_count

    body = load_json(response.content, provider=provider, model=model, status=response.status)
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise InvalidResponseError("embeddings response has no 'data' list",
                                   provider=provider, model=model)
    rows: dict[int, Any] = {}
    for pos, item in enumerate(data):
        if not isinstance(item, dict) or "embedding" not in item:
            raise InvalidResponseError(f"embeddings data[{pos}] has no 'embedding'",
                                       provider=provider, model=model)
        index = item.get("index", pos)
        if isinstance(index, bool) or not isinstance(index, int) or index in rows \
                or not 0 <= index < len(request.texts):
            raise InvalidResponseError(f"embeddings data[{pos}] has a bad index {index!r}",
                                       provider=provider, model=model)
        vec = item["embedding"]
        rows[index] = (decode_float32_base64(vec, provider=provider, model=model)
                       if isinstance(vec, str) else vec)
    usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
    tokens = token_count(usage.get("prompt_tokens"), field="usage.prompt_tokens",
                         provider=provider, model=model)
    ordered = [rows.get(i) for i in range(len(request.texts))]
    name = body.get("model")
    return result(ordered, request=request, provider=provider, model=model,
                  input_tokens=tokens, response_model=name if isinstance(name, str) else None)
