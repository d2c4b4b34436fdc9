"""``MistralEmbedResponder``: the Mistral stand-in plus ``POST /v1/embeddings``.

Hand-written from Mistral's API reference (https://docs.mistral.ai/api/#tag/embeddings),
not recorded: OpenAI's answer shape; more than 256 inputs → 400 "Too many inputs in
request, split into more batches." Vectors are deterministic; tokens are word counts.
"""

from __future__ import annotations

from typing import Any

from polyroute.testing.embed_vectors import fake_vector
from polyroute.testing.standin import Reply, StandinRequest
from polyroute_mistral.embed import MISTRAL_EMBEDDING_MODELS
from polyroute_mistral.standin import MistralResponder

__all__ = ["MistralEmbedResponder"]


class MistralEmbedResponder(MistralResponder):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.embed_calls: list[dict[str, Any]] = []

    def answer(self, request: StandinRequest) -> Reply:
        path = request.path.split("?")[0].rstrip("/")
        if request.method != "POST" or not path.endswith("/embeddings"):
            return super().answer(request)
        auth = request.headers.get("authorization")
        if not auth or (self.require_api_key is not None
                        and auth != f"Bearer {self.require_api_key}"):
            return self.error(request, 401, "Unauthorized")
        body = request.json()
        texts = body.get("input") if isinstance(body, dict) else None
        if not isinstance(texts, list) or not texts:
            return self.error(request, 400, "input is required")
        if len(texts) > 256:
            return self.error(request, 400,
                              "Too many inputs in request, split into more batches.")
        model = str(body.get("model"))
        spec = MISTRAL_EMBEDDING_MODELS.get(model)
        width = body.get("output_dimension") or (spec.dimensions if spec else 1024)
        self.embed_calls.append(body)
        data = [{"object": "embedding", "index": i, "embedding": fake_vector(model, t, width)}
                for i, t in enumerate(texts)]
        tokens = sum(len(t.split()) for t in texts)
        return Reply.json({"id": "emb-standin", "object": "list", "data": data, "model": model,
                           "usage": {"prompt_tokens": tokens, "total_tokens": tokens,
                                     "completion_tokens": 0}})
