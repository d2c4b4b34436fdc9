"""``GeminiEmbedResponder``: the Gemini stand-in plus ``:batchEmbedContents``.

Hand-written from the Gemini API reference (https://ai.google.dev/api/embeddings),
not recorded: at most 100 requests per batch (more → 400 INVALID_ARGUMENT), each
naming the same model as the URL; ``taskType`` and ``outputDimensionality`` honoured;
the answer ``{"embeddings": [{"values": [...]}]}`` with no token count. Like the real
model, vectors shorter than 3072 are NOT unit length (the client normalises them).
"""

from __future__ import annotations

import re
from typing import Any

from polyroute.testing.embed_vectors import fake_vector
from polyroute.testing.standin import Reply, StandinRequest
from polyroute_gemini.embed import GEMINI_EMBEDDING_MODELS
from polyroute_gemini.standin import GeminiResponder

__all__ = ["GeminiEmbedResponder", "gemini_vector"]

_BATCH = re.compile(r"/models/([^/:]+):batchEmbedContents$")


def gemini_vector(model: str, text: str, dims: int, task: str | None) -> list[float]:
    """What the stand-in answers: a unit vector scaled by 3 when shortened."""
    vec = fake_vector(model, text, dims, input_type=task)
    full = GEMINI_EMBEDDING_MODELS[model].dimensions if model in GEMINI_EMBEDDING_MODELS else dims
    return vec if dims == full else [3.0 * x for x in vec]


class GeminiEmbedResponder(GeminiResponder):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.embed_calls: list[dict[str, Any]] = []

    def answer(self, request: StandinRequest) -> Reply:
        match = _BATCH.search(request.path.split("?")[0])
        if request.method != "POST" or match is None:
            return super().answer(request)
        key = request.headers.get("x-goog-api-key")
        if self.require_api_key is not None and key != self.require_api_key:
            return self.error(request, 400, "API key not valid. Please pass a valid API key.")
        model = match.group(1)
        body = request.json()
        items = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(items, list) or not 1 <= len(items) <= 100:
            return self.error(request, 400, "* BatchEmbedContentsRequest.requests: at most "
                                            "100 requests can be in one batch")
        out = []
        for item in items:
            if item.get("model") != f"models/{model}":
                return self.error(request, 400, "model in request does not match the URL")
            text = item["content"]["parts"][0]["text"]
            spec = GEMINI_EMBEDDING_MODELS.get(model)
            dims = item.get("outputDimensionality") or (spec.dimensions if spec else 768)
            out.append({"values": gemini_vector(model, text, dims, item.get("taskType"))})
        self.embed_calls.append(body)
        return Reply.json({"embeddings": out})
