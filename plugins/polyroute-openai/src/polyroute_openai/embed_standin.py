"""``OpenAIEmbedResponder``: the stand-in's OpenAI responder, plus ``POST /v1/embeddings``.

Hand-written from the official API reference
(https://platform.openai.com/docs/api-reference/embeddings/create), not recorded:
``input`` a string or an array of at most 2048 non-empty strings (more → 400, as the
API does), ``dimensions`` (text-embedding-3 models only), ``encoding_format``
``float`` or ``base64`` (float32, little-endian); the answer is
``{"object": "list", "data": [{"object": "embedding", "index", "embedding"}],
"model", "usage": {"prompt_tokens", "total_tokens"}}``. Vectors are deterministic
per (model, text, dimensions) and unit length; tokens are word counts.
Everything else goes to ``OpenAIResponder`` (chat, model list).
"""

from __future__ import annotations

from typing import Any

from polyroute.testing.embed_vectors import fake_vector, float32_base64
from polyroute.testing.standin import Reply, StandinRequest
from polyroute_openai.embed import OPENAI_EMBEDDING_MODELS
from polyroute_openai.standin import OpenAIResponder

__all__ = ["OpenAIEmbedResponder"]

MAX_INPUTS = 2048


class OpenAIEmbedResponder(OpenAIResponder):
    def __init__(self, *, default_dimensions: int = 1536, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.default_dimensions = default_dimensions
        self.embed_calls: list[dict[str, Any]] = []

    def answer(self, request: StandinRequest) -> Reply:
        path = request.path.split("?", 1)[0].rstrip("/")
        if request.method != "POST" or not path.endswith("/embeddings"):
            return super().answer(request)
        if self.require_api_key is not None and not self._authorised(request):
            return self.error(request, 401, "Incorrect API key provided.")
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "input" not in body or "model" not in body:
            return self.error(request, 400, "'input' and 'model' are required properties")
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        if not texts or len(texts) > MAX_INPUTS:
            return self.error(request, 400, f"'input' must have 1 to {MAX_INPUTS} items")
        if any(not isinstance(t, str) or not t for t in texts):
            return self.error(request, 400, "'input' items must be non-empty strings")
        model = str(body["model"])
        spec = OPENAI_EMBEDDING_MODELS.get(model)
        dims = body.get("dimensions")
        if dims is not None and (spec is None or not spec.accepts(dims)):
            return self.error(request, 400, f"This model does not support specifying "
                                            f"dimensions={dims}.")
        width = dims or (spec.dimensions if spec else self.default_dimensions)
        self.embed_calls.append(body)
        b64 = body.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(texts):
            vec = fake_vector(model, text, width)
            data.append({"object": "embedding", "index": i,
                         "embedding": float32_base64(vec) if b64 else vec})
        tokens = sum(len(t.split()) for t in texts)
        return Reply.json({"object": "list", "data": data, "model": model,
                           "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
