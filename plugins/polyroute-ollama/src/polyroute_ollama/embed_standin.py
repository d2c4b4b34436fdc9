"""``OllamaEmbedResponder``: the Ollama stand-in plus ``POST /api/embed``.

Hand-written from Ollama's API reference
(https://github.com/ollama/ollama/blob/main/docs/api.md#generate-embeddings), not
recorded: ``{"model", "input"}`` in, ``{"model", "embeddings", "total_duration",
"load_duration", "prompt_eval_count"}`` out; an unknown model → 404
``{"error": "model \\"x\\" not found, try pulling it first"}``.
"""

from __future__ import annotations

from typing import Any

from polyroute.testing.embed_vectors import fake_vector
from polyroute.testing.standin import Reply, StandinRequest
from polyroute_ollama.embed import OLLAMA_EMBEDDING_MODELS
from polyroute_ollama.standin import OllamaResponder

__all__ = ["OllamaEmbedResponder"]


class OllamaEmbedResponder(OllamaResponder):
    def __init__(self, models: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(models, **kwargs)
        self.embed_models = set(models or OLLAMA_EMBEDDING_MODELS)
        self.embed_calls: list[dict[str, Any]] = []

    def answer(self, request: StandinRequest) -> Reply:
        if request.method != "POST" or request.path.split("?")[0].rstrip("/") != "/api/embed":
            return super().answer(request)
        body = request.json()
        model = str(body.get("model")) if isinstance(body, dict) else ""
        if model not in self.embed_models:
            return self.error(request, 404,
                              f'model "{model}" not found, try pulling it first')
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else texts
        if not isinstance(texts, list) or not texts:
            return self.error(request, 400, "input is required")
        spec = OLLAMA_EMBEDDING_MODELS.get(model)
        width = body.get("dimensions") or (spec.dimensions if spec else 768)
        self.embed_calls.append(body)
        return Reply.json({"model": model,
                           "embeddings": [fake_vector(model, t, width) for t in texts],
                           "total_duration": 14143917, "load_duration": 1019500,
                           "prompt_eval_count": sum(len(t.split()) for t in texts)})
