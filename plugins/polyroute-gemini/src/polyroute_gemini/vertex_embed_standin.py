"""``VertexEmbedResponder``: the Gemini stand-in plus Vertex AI's embeddings ``:predict``.

Hand-written from the Vertex AI text embeddings API reference
(https://cloud.google.com/vertex-ai/generative-ai/docs/model-reference/text-embeddings-api),
not recorded: ``Authorization: Bearer`` required; at most 250 instances and 20,000
tokens per request (1 instance for gemini-embedding-001), else 400 INVALID_ARGUMENT
with the reference's wording; ``task_type``, ``outputDimensionality`` and
``autoTruncate`` honoured (a text over 2,048 tokens is refused when it is off); each
prediction carries ``statistics.token_count`` (words here) and ``truncated``.
"""

from __future__ import annotations

import re
from typing import Any

from polyroute.testing.embed_vectors import fake_vector
from polyroute.testing.standin import Reply, StandinRequest
from polyroute_gemini.standin import GeminiResponder
from polyroute_gemini.vertex_embed import VERTEX_EMBEDDING_MODELS

__all__ = ["VertexEmbedResponder"]

_PREDICT = re.compile(r"/v1/projects/([^/]+)/locations/([^/]+)/publishers/google/models/"
                      r"([^/:]+):predict$")


class VertexEmbedResponder(GeminiResponder):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.embed_calls: list[dict[str, Any]] = []

    def answer(self, request: StandinRequest) -> Reply:
        match = _PREDICT.search(request.path.split("?")[0])
        if request.method != "POST" or match is None:
            return super().answer(request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not token or (self.require_api_key is not None and token != self.require_api_key):
            return self.error(request, 401, "Request had invalid authentication credentials. "
                              "Expected OAuth 2 access token, login cookie or other valid "
                              "authentication credential.")
        model = match.group(3)
        spec = VERTEX_EMBEDDING_MODELS.get(model)
        if spec is None:
            return self.error(request, 404, f"Publisher Model `projects/{match.group(1)}/"
                              f"locations/{match.group(2)}/publishers/google/models/{model}` "
                              "was not found or your project does not have access to it.")
        body = request.json()
        instances = body.get("instances") if isinstance(body, dict) else None
        params = (body.get("parameters") or {}) if isinstance(body, dict) else {}
        limit = spec.limits.max_inputs or 250
        if not isinstance(instances, list) or not 1 <= len(instances) <= limit:
            return self.error(request, 400, f"Unable to submit request because the input "
                              f"has more than {limit} instances. Reduce the number of instances "
                              "and try again.")
        counts = [len(str(i.get("content", "")).split()) for i in instances]
        if sum(counts) > 20_000:
            return self.error(request, 400, "Unable to submit request because the input token "
                              "count is 20001 but the model supports up to 20000. Reduce the "
                              "input token count and try again.")
        dims = params.get("outputDimensionality") or spec.dimensions
        if not spec.accepts(dims):
            return self.error(request, 400, f"Unsupported output dimensionality: {dims}.")
        out = []
        for item, count in zip(instances, counts, strict=True):
            text = item.get("content")
            if not isinstance(text, str) or not text:
                return self.error(request, 400, "The text content is empty.")
            if count > 2048 and params.get("autoTruncate") is False:
                return self.error(request, 400, "Unable to submit request because the input "
                                  "is too long (over 2048 tokens) and autoTruncate is false.")
            out.append({"embeddings": {
                "values": fake_vector(model, text, dims, input_type=item.get("task_type")),
                "statistics": {"truncated": count > 2048, "token_count": min(count, 2048)}}})
        self.embed_calls.append(body)
        return Reply.json({"predictions": out,
                           "metadata": {"billableCharacterCount": sum(
                               len(str(i.get("content", ""))) for i in instances)}})
