"""``CohereEmbedResponder``: the Cohere stand-in plus ``POST /v2/embed``.

Hand-written from Cohere's API reference (https://docs.cohere.com/reference/embed),
not recorded: at most 96 ``texts`` (more → 400), ``input_type`` required,
``output_dimension`` only where the model offers it; the answer
``{"id", "embeddings": {"float": [...]}, "texts", "meta": {"billed_units":
{"input_tokens"}}, "response_type": "embeddings_by_type"}``. Vectors are
deterministic per (model, input_type, text, dimension); tokens are word counts.
"""

from __future__ import annotations

from typing import Any

from polyroute.testing.embed_vectors import fake_vector
from polyroute.testing.standin import Reply, StandinRequest
from polyroute_cohere.embed import COHERE_EMBEDDING_MODELS
from polyroute_cohere.standin import CohereResponder

__all__ = ["CohereEmbedResponder"]


class CohereEmbedResponder(CohereResponder):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.embed_calls: list[dict[str, Any]] = []

    def answer(self, request: StandinRequest) -> Reply:
        if request.method != "POST" or request.path.split("?")[0].rstrip("/") != "/v2/embed":
            return super().answer(request)
        auth = request.headers.get("authorization")
        if self.require_api_key is not None and auth != f"Bearer {self.require_api_key}":
            return self.error(request, 401, "invalid api token")
        body = request.json()
        texts = body.get("texts") if isinstance(body, dict) else None
        if not isinstance(texts, list) or not 1 <= len(texts) <= 96:
            return self.error(request, 400, "invalid request: texts must hold 1 to 96 items")
        if "input_type" not in body:
            return self.error(request, 400, "invalid request: input_type is required")
        spec = COHERE_EMBEDDING_MODELS.get(str(body.get("model")))
        dims = body.get("output_dimension")
        if dims is not None and (spec is None or not spec.accepts(dims)):
            return self.error(request, 400, f"invalid request: output_dimension {dims}")
        width = dims or (spec.dimensions if spec else 1024)
        self.embed_calls.append(body)
        vectors = [fake_vector(str(body["model"]), t, width, input_type=body["input_type"])
                   for t in texts]
        return Reply.json({"id": f"emb-{len(self.embed_calls)}", "texts": texts,
                           "embeddings": {"float": vectors},
                           "meta": {"api_version": {"version": "2"},
                                    "billed_units": {"input_tokens": sum(
                                        len(t.split()) for t in texts)}},
                           "response_type": "embeddings_by_type"})
