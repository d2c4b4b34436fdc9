"""``BedrockEmbedResponder``: the Bedrock stand-in plus ``POST /model/{id}/invoke`` for
Titan Text Embeddings V2 and Cohere Embed.

Hand-written from the Bedrock user guide's model-parameter pages (Titan Text Embeddings
V2, Cohere Embed), not recorded: Titan takes one ``inputText`` and answers
``{"embedding", "embeddingsByType", "inputTextTokenCount"}``; Cohere takes at most 96
``texts`` and answers ``{"id", "embeddings": {"float"}, "texts", "response_type"}``
with the token count in ``X-Amzn-Bedrock-Input-Token-Count``. Authentication is
checked (and SigV4 verified) as for Converse. Vectors are deterministic.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from polyroute.testing.embed_vectors import fake_vector
from polyroute.testing.standin import Reply, StandinRequest
from polyroute_bedrock.embed import BEDROCK_EMBEDDING_MODELS
from polyroute_bedrock.standin import BedrockResponder

__all__ = ["BedrockEmbedResponder"]

_INVOKE = re.compile(r"^/model/([^/]+)/invoke$")


class BedrockEmbedResponder(BedrockResponder):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.embed_calls: list[dict[str, Any]] = []

    def answer(self, request: StandinRequest) -> Reply:
        match = _INVOKE.match(request.path.split("?")[0])
        if request.method != "POST" or match is None:
            return super().answer(request)
        denied = self._check_auth(request)
        if denied is not None:
            return denied
        model = unquote(match.group(1))
        spec = BEDROCK_EMBEDDING_MODELS.get(model)
        body = request.json()
        if spec is None or not isinstance(body, dict):
            return self.error(request, 400, "The provided model identifier is invalid.")
        self.embed_calls.append(body)
        if model.startswith("amazon.titan-embed"):
            text = body.get("inputText")
            dims = body.get("dimensions") or spec.dimensions
            if not isinstance(text, str) or not text or not spec.accepts(dims):
                return self.error(request, 400, "Malformed input request: inputText, dimensions")
            vec = fake_vector(model, text, dims)
            return Reply.json({"embedding": vec, "embeddingsByType": {"float": vec},
                               "inputTextTokenCount": len(text.split())})
        texts = body.get("texts")
        if not isinstance(texts, list) or not 1 <= len(texts) <= 96 or "model" in body:
            return self.error(request, 400, "Malformed input request: texts (1 to 96), "
                                            "no model field")
        dims = body.get("output_dimension") or spec.dimensions
        # seeded by the model name Cohere uses: the same weights give the same vectors
        name = spec.identity.split("/", 1)[1]
        vectors = [fake_vector(name, t, dims, input_type=body.get("input_type"))
                   for t in texts]
        return Reply.json({"id": "emb-bedrock", "texts": texts, "response_type":
                           "embeddings_by_type", "embeddings": {"float": vectors}},
                          headers={"X-Amzn-Bedrock-Input-Token-Count":
                                   str(sum(len(t.split()) for t in texts))})
