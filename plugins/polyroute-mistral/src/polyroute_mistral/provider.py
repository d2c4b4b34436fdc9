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

import json
from typing import Any, ClassVar

from polyroute.errors import InvalidResponseError, ProviderError
from polyroute.providers.base import HttpRequest, HttpResponse, Provider, StreamParser
from polyroute.providers.bodies import typed_error, typed_parse
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
    supported_params: ClassVar[frozenset[str] | None] = frozenset({
        "temperature", "top_p", "max_tokens", "stop", "frequency_penalty",
        "presence_penalty", "seed",
    })
    """No ``top_k`` in Mistral's API; ``seed`` is sent as ``random_seed``."""

    def headers(self) -> dict[str, str]:
        """Request headers (the key included: never log them)."""
        headers = {"content-type": "application/json", "accept": "application/json"}
        key = self.api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        headers.update(self.settings.headers)
        return headers

    def build_request(self, request: ChatRequest, model: str, *, stream: bool) -> HttpRequest:
        safe = self.settings.extra.get("safe_prompt")
        headers = self.headers()
        if stream:
            headers["accept"] = "text/event-stream"
        return HttpRequest(
            method="POST",
            url=f"{self.base_url}/chat/completions",
            headers=headers,
            json=build_body(request, model, stream=stream,
                            safe_prompt=safe if isinstance(safe, bool) else None),
            framing="sse" if stream else None,
        )

    @typed_parse
    def parse_response(self, response: HttpResponse, model: str) -> ChatResponse:
        try:
            data: Any = json.loads(response.content)
        except (ValueError, RecursionError):
            raise InvalidResponseError(
                f"chat completions answered {response.status} with a body that is not JSON",
                provider=self.name, model=model, status=response.status,
                request_id=request_id(response.headers)) from None
        if isinstance(data, dict) and data.get("object") == "error":
            raise classify_error(None, data, response.headers, self.name, model)
        try:
            return parse_completion(data, provider=self.name, model=model)
        except InvalidResponseError as exc:
            exc.status = response.status
            exc.request_id = request_id(response.headers)
            raise

    @typed_error
    def parse_error(self, response: HttpResponse, model: str) -> ProviderError:
        try:
            body: Any = json.loads(response.content) if response.content else None
        except (ValueError, RecursionError):
            body = None
        err = classify_error(response.status, body, response.headers, self.name, model)
        if body is None and response.content:
            snippet = " ".join(response.text.split())[:200]
            err.reason = f"{err.reason} ({snippet})"
            err.args = (err.reason,)
        return err

    def stream_parser(self, model: str) -> StreamParser:
        return MistralStreamParser(provider=self.name, model=model)

    def models(self) -> list[ModelInfo]:
        if self.settings.base_url and self.settings.base_url.rstrip("/") != self.default_base_url:
            return []  # a self-hosted deployment: the La Plateforme catalog says nothing about it
        return list(MODELS)

    def list_models_request(self) -> HttpRequest | None:
        headers = {k: v for k, v in self.headers().items() if k != "content-type"}
        return HttpRequest("GET", f"{self.base_url}/models", headers=headers)

    @typed_parse
    def parse_models(self, response: HttpResponse) -> list[str]:
        """Ids of models whose ``capabilities.completion_chat`` is true."""
        try:
            data: Any = json.loads(response.content)
        except (ValueError, RecursionError):
            data = None
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise InvalidResponseError("model list has no 'data' array", provider=self.name,
                                       status=response.status)
        out: list[str] = []
        for m in items:
            if not isinstance(m, dict) or not isinstance(m.get("id"), str):
                continue
            caps = m.get("capabilities")
            if isinstance(caps, dict) and caps.get("completion_chat") is False:
                continue
            out.append(m["id"])
        return out
