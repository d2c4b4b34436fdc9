"""``CohereProvider``: the sans-IO translator for Cohere's Chat API v2.

Reference: https://docs.cohere.com/reference/chat

Settings:

- ``api_key`` — else ``CO_API_KEY`` or ``COHERE_API_KEY`` (first set wins, as
  the Cohere SDK reads them); sent as ``Authorization: Bearer``.
- ``base_url`` — default ``https://api.cohere.com``; requests go to ``/v2/chat``.
- ``headers`` — extra headers, sent as given (``X-Client-Name``, say).
- ``extra["safety_mode"]`` — ``CONTEXTUAL``, ``STRICT`` or ``OFF``, sent with
  every request.
"""

from __future__ import annotations

from typing import ClassVar

from polyroute.errors import ProviderError
from polyroute.providers import json_api
from polyroute.providers.base import HttpRequest, HttpResponse, Provider
from polyroute.providers.bodies import typed_error, typed_parse
from polyroute.types import ChatRequest, ChatResponse
from polyroute_cohere.catalog import MODELS
from polyroute_cohere.errors import error_from_body
from polyroute_cohere.parse import parse_chat
from polyroute_cohere.request import build_body
from polyroute_cohere.stream import CohereStreamParser

__all__ = ["CohereProvider"]


class CohereProvider(Provider):
    """Cohere Command models through ``POST /v2/chat``."""

    type_name: ClassVar[str] = "cohere"
    default_base_url: ClassVar[str | None] = "https://api.cohere.com"
    api_key_env: ClassVar[tuple[str, ...]] = ("CO_API_KEY", "COHERE_API_KEY")
    stream_parser_type = CohereStreamParser
    catalog = MODELS

    def headers(self) -> dict[str, str]:
        """Request headers (the key included: never log them)."""
        return json_api.bearer_headers(self.api_key(), self.settings.headers)

    def build_request(self, request: ChatRequest, model: str, *, stream: bool) -> HttpRequest:
        mode = self.settings.extra.get("safety_mode")
        body = build_body(request, model, stream=stream,
                          safety_mode=mode if isinstance(mode, str) else None)
        return json_api.post_json(f"{self.base_url}/v2/chat", self.headers(), body, stream=stream)

    @typed_parse
    def parse_response(self, response: HttpResponse, model: str) -> ChatResponse:
        data = json_api.json_body(response, provider=self.name, model=model, endpoint="/v2/chat")
        with json_api.answered(response):
            return parse_chat(data, provider=self.name, model=model)

    @typed_error
    def parse_error(self, response: HttpResponse, model: str) -> ProviderError:
        return error_from_body(response.content, status=response.status,
                               headers=response.headers, provider=self.name, model=model)

    def list_models_request(self) -> HttpRequest | None:
        return json_api.get_request(f"{self.base_url}/v1/models?endpoint=chat&page_size=1000",
                                    self.headers())

    @typed_parse
    def parse_models(self, response: HttpResponse) -> list[str]:
        """Model names from ``GET /v1/models`` (https://docs.cohere.com/reference/list-models)."""
        items = json_api.model_items(response, "models", provider=self.name)
        return json_api.model_names(items, "name")
