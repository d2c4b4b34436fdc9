"""``MistralProvider``: neutral ``ChatRequest`` → Mistral chat completions. No IO.

Reference: https://docs.mistral.ai/api/#tag/chat/operation/chat_completion_v1_chat_completions_post

Settings:

- ``api_key`` — else ``MISTRAL_API_KEY``; sent as ``Authorization: Bearer``.
- ``base_url`` — default ``https://api.mistral.ai/v1``.
- ``headers`` — extra headers, sent as given.
- ``extra["safe_prompt"]`` — ``true`` to send ``safe_prompt: true`` (Mistral
  prepends its guardrail system prompt) on every request.
"""

from __future__ import annotations

from typing import Any, ClassVar

from polyroute.errors import ProviderError
from polyroute.providers import json_api
from polyroute.providers.base import HttpRequest, HttpResponse, Provider
from polyroute.providers.bodies import typed_error, typed_parse
from polyroute.providers.errors_table import error_json, with_body_snippet
from polyroute.types import ChatRequest, ChatResponse, ModelInfo
from polyroute_mistral.catalog import MODELS
from polyroute_mistral.errors import classify_error, request_id
from polyroute_mistral.parse import parse_completion
from polyroute_mistral.request import build_body
from polyroute_mistral.stream import MistralStreamParser

__all__ = ["MistralProvider"]


class MistralProvider(Provider):
    """Mistral AI's chat completions API (La Plateforme)."""

    type_name: ClassVar[str] = "mistral"
    default_base_url: ClassVar[str | None] = "https://api.mistral.ai/v1"
    api_key_env: ClassVar[tuple[str, ...]] = ("MISTRAL_API_KEY",)
    stream_parser_type = MistralStreamParser
    catalog = MODELS
    supported_params: ClassVar[frozenset[str] | None] = frozenset({
        "temperature", "top_p", "max_tokens", "stop", "frequency_penalty",
        "presence_penalty", "seed",
    })
    """No ``top_k`` in Mistral's API; ``seed`` is sent as ``random_seed``."""

    def headers(self) -> dict[str, str]:
        """Request headers (the key included: never log them)."""
        return json_api.bearer_headers(self.api_key(), self.settings.headers)

    def build_request(self, request: ChatRequest, model: str, *, stream: bool) -> HttpRequest:
        safe = self.settings.extra.get("safe_prompt")
        body = build_body(request, model, stream=stream,
                          safe_prompt=safe if isinstance(safe, bool) else None)
        return json_api.post_json(f"{self.base_url}/chat/completions", self.headers(), body,
                                  stream=stream)

    @typed_parse
    def parse_response(self, response: HttpResponse, model: str) -> ChatResponse:
        rid = request_id(response.headers)
        data = json_api.json_body(response, provider=self.name, model=model,
                                  endpoint="chat completions", request_id=rid)
        if isinstance(data, dict) and data.get("object") == "error":
            raise classify_error(None, data, response.headers, self.name, model)
        with json_api.answered(response, rid):
            return parse_completion(data, provider=self.name, model=model)

    @typed_error
    def parse_error(self, response: HttpResponse, model: str) -> ProviderError:
        body = error_json(response.content)
        err = classify_error(response.status, body, response.headers, self.name, model)
        return err if body is not None else with_body_snippet(err, response.content)

    def models(self) -> list[ModelInfo]:
        if self.settings.base_url and self.settings.base_url.rstrip("/") != self.default_base_url:
            return []  # a self-hosted deployment: the La Plateforme catalog says nothing about it
        return super().models()

    def list_models_request(self) -> HttpRequest | None:
        return json_api.get_request(f"{self.base_url}/models", self.headers())

    @typed_parse
    def parse_models(self, response: HttpResponse) -> list[str]:
        """Ids of models whose ``capabilities.completion_chat`` is true."""
        items = json_api.model_items(response, "data", provider=self.name)
        return json_api.model_names(items, "id", _chat)


def _chat(model: dict[str, Any]) -> bool:
    caps = model.get("capabilities")
    return not (isinstance(caps, dict) and caps.get("completion_chat") is False)
