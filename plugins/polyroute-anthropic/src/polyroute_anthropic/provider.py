"""``AnthropicProvider``: the sans-IO translator for the Claude Messages API.

Settings (``ProviderSettings``):

- ``api_key`` — else ``ANTHROPIC_API_KEY``; sent as ``x-api-key``.
- ``base_url`` — default ``https://api.anthropic.com``; requests go to ``/v1/messages``.
- ``api_version`` — the ``anthropic-version`` header, default ``2023-06-01``.
- ``headers`` — extra headers, sent as given (they win over the defaults).
- ``extra["beta"]`` — a string or list of strings, sent as ``anthropic-beta``.
- ``extra["default_max_tokens"]`` — ``max_tokens`` for models the catalog
  does not know (default 4096).
"""

from __future__ import annotations

from typing import ClassVar

from polyroute.errors import ProviderError
from polyroute.providers import json_api
from polyroute.providers.base import HttpRequest, HttpResponse, Provider, ProviderSettings
from polyroute.providers.bodies import typed_error, typed_parse
from polyroute.types import ChatRequest, ChatResponse
from polyroute_anthropic.catalog import MODELS
from polyroute_anthropic.errors import error_from_body
from polyroute_anthropic.parse import parse_message
from polyroute_anthropic.request import build_body
from polyroute_anthropic.stream import AnthropicStreamParser

__all__ = ["DEFAULT_API_VERSION", "AnthropicProvider"]

DEFAULT_API_VERSION = "2023-06-01"


class AnthropicProvider(Provider):
    """Claude through Anthropic's Messages API (``POST /v1/messages``)."""

    type_name: ClassVar[str] = "anthropic"
    default_base_url: ClassVar[str | None] = "https://api.anthropic.com"
    api_key_env: ClassVar[tuple[str, ...]] = ("ANTHROPIC_API_KEY",)
    stream_parser_type = AnthropicStreamParser
    catalog = MODELS
    supported_params: ClassVar[frozenset[str] | None] = frozenset(
        {"temperature", "top_p", "top_k", "max_tokens", "stop"}
    )

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        default = settings.extra.get("default_max_tokens")
        self._default_max_tokens = default if isinstance(default, int) else None

    def headers(self) -> dict[str, str]:
        """Request headers (the key included: never log them)."""
        headers = {
            "anthropic-version": self.settings.api_version or DEFAULT_API_VERSION,
            "content-type": "application/json",
        }
        key = self.api_key()
        if key is not None:
            headers["x-api-key"] = key
        beta = self.settings.extra.get("beta")
        if beta:
            headers["anthropic-beta"] = beta if isinstance(beta, str) else ",".join(beta)
        headers.update(self.settings.headers)
        return headers

    def build_request(self, request: ChatRequest, model: str, *, stream: bool) -> HttpRequest:
        body = build_body(
            request, model, stream=stream, default_max_tokens=self._default_max_tokens
        )
        return json_api.post_json(f"{self.base_url}/v1/messages", self.headers(), body,
                                  stream=stream, stream_accept=False)

    @typed_parse
    def parse_response(self, response: HttpResponse, model: str) -> ChatResponse:
        data = json_api.json_body(response, provider=self.name, model=model,
                                  endpoint="Messages API")
        if isinstance(data, dict) and data.get("type") == "error":
            raise self.parse_error(response, model)
        with json_api.answered(response, response.headers.get("request-id")):
            return parse_message(data, provider=self.name, model=model)

    @typed_error
    def parse_error(self, response: HttpResponse, model: str) -> ProviderError:
        return error_from_body(
            response.content,
            status=response.status,
            headers=response.headers,
            provider=self.name,
            model=model,
        )

    def list_models_request(self) -> HttpRequest:
        return json_api.get_request(f"{self.base_url}/v1/models", self.headers())

    @typed_parse
    def parse_models(self, response: HttpResponse) -> list[str]:
        items = json_api.model_items(response, "data", provider=self.name,
                                     message="unexpected /v1/models body")
        return json_api.model_names(items)
