"""``AzureInferenceResponder``: the Azure AI Model Inference API for ``StandinServer``.

The OpenAI stand-in's scripted model, answering in the Model Inference API's own shape
(https://learn.microsoft.com/rest/api/aifoundry/model-inference/get-chat-completions;
the ``ChatCompletions`` / ``StreamingChatCompletionsUpdate`` models of azure-ai-inference
1.0.0b9): no ``service_tier``, ``system_fingerprint``, ``refusal``, ``annotations``,
``logprobs`` or
usage details, which that API does not define. Like the service it answers
400 without ``api-version``, 401 without a key (``api-key`` or a bearer token), and
422 for a body field outside the API unless ``extra-parameters: pass-through`` (or
``drop``) says what to do with it.
"""

from __future__ import annotations

import json
from typing import Any

from polyroute.testing.standin import Reply, StandinRequest, sse
from polyroute_openai.azure_inference import STANDARD_FIELDS
from polyroute_openai.standin import OpenAIResponder

__all__ = ["AzureInferenceResponder"]

_OPENAI_ONLY = ("service_tier", "system_fingerprint", "refusal", "annotations", "logprobs",
                "prompt_tokens_details", "completion_tokens_details")


def _narrow(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _narrow(v) for k, v in node.items() if k not in _OPENAI_ONLY}
    if isinstance(node, list):
        return [_narrow(v) for v in node]
    return node


class AzureInferenceResponder(OpenAIResponder):
    """Speaks ``/chat/completions?api-version=...`` of Azure AI Foundry Models."""

    def answer(self, request: StandinRequest) -> Reply:
        if "api-version=" not in request.path:
            return self.error(request, 400, "The api-version query parameter (?api-version=) "
                                            "is required for all requests.")
        if not (request.headers.get("api-key")
                or request.headers.get("authorization", "").startswith("Bearer ")):
            return self.error(request, 401, "Access denied due to missing subscription key.")
        try:
            body = request.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            extra = sorted(set(body) - STANDARD_FIELDS)
            mode = request.headers.get("extra-parameters", "error")
            if extra and mode not in ("pass-through", "drop"):
                return self.error(request, 422, f"Extra parameters {extra} are not allowed "
                                                "when extra-parameters is not set or set to "
                                                "'error'.")
        reply = super().answer(request)
        if reply.body is not None and reply.status == 200:
            reply.body = json.dumps(_narrow(json.loads(reply.body))).encode()
        if reply.chunks is not None:
            reply.chunks = [self._narrow_event(c) for c in reply.chunks]
        return reply

    @staticmethod
    def _narrow_event(chunk: bytes) -> bytes:
        text = chunk.decode()
        if not text.startswith("data: {"):
            return chunk
        return sse(_narrow(json.loads(text[6:])))

    def _stream(self, body: dict[str, Any], n: int, result: dict[str, Any],
                include_usage: bool) -> list[bytes]:
        # usage rides on the last chunk unasked (the API has no stream_options)
        return super()._stream(body, n, result, True)

    def error(self, request: StandinRequest, status: int, message: str) -> Reply:
        code = {400: "BadRequest", 401: "Unauthorized", 404: "NotFound", 422: "Invalid input",
                429: "Too Many Requests"}.get(status, "InternalServerError")
        return Reply.json({"error": {"code": code, "message": message, "status": status}},
                          status=status, headers={"x-request-id": f"standin-err{status}"})
