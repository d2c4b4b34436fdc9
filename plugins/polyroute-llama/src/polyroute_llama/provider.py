"""``LlamaProvider``: neutral ``ChatRequest`` → the Meta Llama API's chat completions. No IO.

Reference: https://llama.developer.meta.com/docs/api/chat (``POST
https://api.llama.com/v1/chat/completions``, ``Authorization: Bearer``), checked against
the official ``llama-api-client`` 0.6.0 by tests/conformance/test_conformance_llama.py.
The body is built by ``request.build_body``; answers use the API's own shape
(``completion_message``, ``metrics``), read by ``parse`` and ``stream``.

Settings:

- ``api_key`` — else ``LLAMA_API_KEY`` (the variable the official SDK reads).
- ``base_url`` — else ``LLAMA_API_CLIENT_BASE_URL``, else ``https://api.llama.com/v1``.
- ``headers`` — extra headers, sent as given.
"""

from __future__ import annotations

import os
from typing import ClassVar

from polyroute.errors import ProviderError
from polyroute.providers import json_api
from polyroute.providers.base import HttpRequest, HttpResponse, Provider
from polyroute.providers.bodies import typed_error, typed_parse
from polyroute.providers.classify import request_id_from_headers
from polyroute.providers.errors_table import error_json, with_body_snippet
from polyroute.types import ChatRequest, ChatResponse
from polyroute_llama.catalog import MODELS
from polyroute_llama.parse import classify_error, parse_completion
from polyroute_llama.request import build_body
from polyroute_llama.stream import LlamaStreamParser

__all__ = ["LlamaProvider"]

BASE_URL_ENV = "LLAMA_API_CLIENT_BASE_URL"


class LlamaProvider(Provider):
    """Meta's Llama API (api.llama.com), in its own wire format."""

    type_name: ClassVar[str] = "llama"
    default_base_url: ClassVar[str | None] = "https://api.llama.com/v1"
    api_key_env: ClassVar[tuple[str, ...]] = ("LLAMA_API_KEY",)
    stream_parser_type = LlamaStreamParser
    catalog = MODELS
    supported_params: ClassVar[frozenset[str] | None] = frozenset(
        {"temperature", "top_p", "top_k", "max_tokens"})
    """The API has no ``stop``, ``seed``, ``frequency_penalty`` or ``presence_penalty``."""

    @property
    def base_url(self) -> str:
        url = self.settings.base_url or os.environ.get(BASE_URL_ENV) or self.default_base_url
        return str(url).rstrip("/")

    def headers(self) -> dict[str, str]:
        """Request headers (the key included: never log them)."""
        return json_api.bearer_headers(self.api_key(), self.settings.headers)

    def build_request(self, request: ChatRequest, model: str, *, stream: bool) -> HttpRequest:
        body = build_body(request, model, stream=stream, provider=self.name)
        return json_api.post_json(f"{self.base_url}/chat/completions", self.headers(), body,
                                  stream=stream)

    @typed_parse
    def parse_response(self, response: HttpResponse, model: str) -> ChatResponse:
        rid = request_id_from_headers(response.headers)
        data = json_api.json_body(response, provider=self.name, model=model,
                                  endpoint="chat completions", request_id=rid)
        with json_api.answered(response, rid):
            return parse_completion(data, provider=self.name, model=model)

    @typed_error
    def parse_error(self, response: HttpResponse, model: str) -> ProviderError:
        body = error_json(response.content)
        err = classify_error(response.status, body, response.headers, self.name, model)
        return err if body is not None else with_body_snippet(err, response.content)

    def list_models_request(self) -> HttpRequest | None:
        return json_api.get_request(f"{self.base_url}/models", self.headers())

    @typed_parse
    def parse_models(self, response: HttpResponse) -> list[str]:
        items = json_api.model_items(response, "data", provider=self.name)
        return json_api.model_names(items, "id")
