"""``OllamaProvider``: the sans-IO translator for Ollama's native API.

Settings (``ProviderSettings``):

- ``base_url`` — the server: ``host``, ``host:port`` or a URL; else
  ``OLLAMA_HOST`` (as the ``ollama`` CLI reads it); else ``http://localhost:11434``.
- ``api_key`` — optional (else ``OLLAMA_API_KEY``), sent as
  ``Authorization: Bearer`` when set: for ollama.com or a server behind an
  authenticating proxy. A local server needs none.
- ``headers`` — extra headers, sent as given.
- ``extra["options"]`` — default model options (``num_ctx``, ``repeat_penalty``...),
  under the request's own. ``extra["options"]["num_ctx"]`` also caps the
  catalog's context windows (see ``catalog``).
- ``extra["keep_alive"]``, ``extra["think"]`` — defaults for those fields.

Endpoints: ``POST /api/chat`` (chat, streamed as NDJSON), ``GET /api/tags``
(live model list), ``GET /api/version`` (health; see ``health_request``).
"""

from __future__ import annotations

from typing import Any, ClassVar

from polyroute.errors import InvalidResponseError, ProviderError
from polyroute.providers.base import HttpRequest, HttpResponse, Provider
from polyroute.providers.bodies import typed_error, typed_parse
from polyroute.providers.json_api import json_body, model_items
from polyroute.types import ChatRequest, ChatResponse, ModelInfo
from polyroute_ollama.catalog import with_num_ctx
from polyroute_ollama.host import resolve_host
from polyroute_ollama.parse import error_from_body, parse_chat
from polyroute_ollama.request import build_body
from polyroute_ollama.stream import OllamaStreamParser

__all__ = ["OllamaProvider"]


class OllamaProvider(Provider):
    """A local (or remote) Ollama server through ``/api/chat``."""

    type_name: ClassVar[str] = "ollama"
    pricing_id: ClassVar[str | None] = ""  # id in the genai-prices dataset
    default_base_url: ClassVar[str | None] = "http://localhost:11434"
    api_key_env: ClassVar[tuple[str, ...]] = ("OLLAMA_API_KEY",)
    stream_parser_type = OllamaStreamParser
    requires_api_key: ClassVar[bool] = False

    @property
    def base_url(self) -> str:
        return resolve_host(self.settings.base_url, provider=self.name)

    def headers(self) -> dict[str, str]:
        """Request headers (with the key, if one is set: never log them)."""
        headers: dict[str, str] = {}
        key = self.api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        headers.update(self.settings.headers)
        return headers

    # --- chat ----------------------------------------------------------------

    def build_request(self, request: ChatRequest, model: str, *, stream: bool) -> HttpRequest:
        body = build_body(request, model, stream=stream, defaults=self.settings.extra,
                          provider=self.name)
        return HttpRequest(
            method="POST",
            url=f"{self.base_url}/api/chat",
            headers={"content-type": "application/json", **self.headers()},
            json=body,
            framing="ndjson" if stream else None,
        )

    @typed_parse
    def parse_response(self, response: HttpResponse, model: str) -> ChatResponse:
        data = self._json(response, model, "/api/chat")
        if isinstance(data, dict) and "error" in data:
            raise self.parse_error(response, model)
        return parse_chat(data, provider=self.name, model=model)

    @typed_error
    def parse_error(self, response: HttpResponse, model: str) -> ProviderError:
        return error_from_body(response.content, status=response.status,
                               headers=response.headers, provider=self.name, model=model)

    # --- catalog, model list, health ------------------------------------------

    def models(self) -> list[ModelInfo]:
        options = self.settings.extra.get("options")
        num_ctx = options.get("num_ctx") if isinstance(options, dict) else None
        return with_num_ctx(num_ctx if isinstance(num_ctx, int) else None)

    def list_models_request(self) -> HttpRequest:
        return HttpRequest("GET", f"{self.base_url}/api/tags", headers=self.headers())

    @typed_parse
    def parse_models(self, response: HttpResponse) -> list[str]:
        """Model names from ``GET /api/tags`` (``{"models": [{"name", "model", ...}]}``)."""
        items = model_items(response, "models", provider=self.name,
                            message="unexpected /api/tags body")
        return [name for item in items if isinstance(item, dict)
                for name in [item.get("model") or item.get("name")] if isinstance(name, str)]

    def health_request(self) -> HttpRequest:
        """A cheap liveness probe: ``GET /api/version`` (no model is loaded)."""
        return HttpRequest("GET", f"{self.base_url}/api/version", headers=self.headers())

    def parse_health(self, response: HttpResponse) -> str:
        """The server version from ``/api/version``; raises a ``ProviderError`` if unhealthy."""
        if response.status >= 300:
            raise self.parse_error(response, "")
        data = self._json(response, "", "/api/version")
        version = data.get("version") if isinstance(data, dict) else None
        if not isinstance(version, str):
            raise InvalidResponseError("unexpected /api/version body", provider=self.name,
                                       status=response.status)
        return version

    # --- helpers -------------------------------------------------------------

    def _json(self, response: HttpResponse, model: str, what: str) -> Any:
        return json_body(response, provider=self.name, model=model, endpoint=what)

    def __repr__(self) -> str:
        try:
            url = self.base_url
        except Exception:
            url = "?"
        return f"<{type(self).__name__} {self.name!r} type={self.type_name!r} url={url!r}>"
