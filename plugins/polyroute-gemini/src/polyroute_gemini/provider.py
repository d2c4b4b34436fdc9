"""``GeminiProvider`` and ``VertexGeminiProvider``: sans-IO translators for ``generateContent``.

Gemini API (``type: gemini``), reference https://ai.google.dev/api/generate-content:

- ``api_key`` — else ``GOOGLE_API_KEY`` or ``GEMINI_API_KEY`` (first set wins,
  as the google-genai SDK reads them); sent as the ``x-goog-api-key`` header,
  never in the URL.
- ``base_url`` — default ``https://generativelanguage.googleapis.com``.
- ``api_version`` — path version, default ``v1beta``.
- ``headers`` — extra headers, sent as given.
- ``extra["safety_settings"]`` — a ``safetySettings`` list sent with every request.
- ``extra["schema_field"]`` — ``responseSchema`` (default; the schema is
  rewritten to Gemini's OpenAPI subset) or ``responseJsonSchema`` (verbatim).

Vertex AI (``type: vertex_gemini``), reference
https://cloud.google.com/vertex-ai/generative-ai/docs/reference/rest/v1/projects.locations.publishers.models/generateContent:

- ``api_key`` — an OAuth2 access token (``gcloud auth print-access-token``),
  else ``GOOGLE_VERTEX_ACCESS_TOKEN``; sent as ``Authorization: Bearer``.
  Access tokens expire after about an hour: refresh the variable (or the
  config) from your credential tooling.
- ``project`` (or ``extra["project"]``) — else ``GOOGLE_CLOUD_PROJECT``.
- ``extra["location"]`` — else ``GOOGLE_CLOUD_LOCATION``, else ``us-central1``;
  ``global`` uses the ``aiplatform.googleapis.com`` host.
- ``base_url`` — overrides ``https://{location}-aiplatform.googleapis.com``.
- ``api_version`` — default ``v1``.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar
from urllib.parse import quote

from polyroute.errors import ConfigError, ProviderError
from polyroute.providers import json_api
from polyroute.providers.base import HttpRequest, HttpResponse, Provider, ProviderSettings
from polyroute.providers.bodies import typed_error, typed_parse
from polyroute.types import ChatRequest, ChatResponse
from polyroute_gemini.catalog import MODELS, VERTEX_MODELS
from polyroute_gemini.errors import error_from_body, error_from_data
from polyroute_gemini.parse import parse_generate_content
from polyroute_gemini.request import build_body
from polyroute_gemini.stream import GeminiStreamParser

__all__ = ["GeminiProvider", "VertexGeminiProvider"]


class GeminiProvider(Provider):
    """Gemini through the Gemini Developer API (``models/{model}:generateContent``)."""

    type_name: ClassVar[str] = "gemini"
    pricing_id: ClassVar[str | None] = "google"  # id in the genai-prices dataset
    default_base_url: ClassVar[str | None] = "https://generativelanguage.googleapis.com"
    api_key_env: ClassVar[tuple[str, ...]] = ("GOOGLE_API_KEY", "GEMINI_API_KEY")
    stream_parser_type = GeminiStreamParser
    catalog = MODELS
    default_api_version: ClassVar[str] = "v1beta"

    @property
    def api_version(self) -> str:
        return self.settings.api_version or self.default_api_version

    # --- request -------------------------------------------------------------

    def model_path(self, model: str) -> str:
        """``models/{model}`` (``tunedModels/...`` and ``models/...`` pass through)."""
        if "/" in model:
            return model
        return f"models/{quote(model, safe='.-_')}"

    def endpoint_url(self, model: str, *, stream: bool) -> str:
        method = "streamGenerateContent?alt=sse" if stream else "generateContent"
        return f"{self.base_url}/{self.api_version}/{self.model_path(model)}:{method}"

    def auth_headers(self) -> dict[str, str]:
        key = self.api_key()
        return {"x-goog-api-key": key} if key else {}

    def headers(self) -> dict[str, str]:
        """Request headers (the key included: never log them)."""
        return {"content-type": "application/json", **self.auth_headers(),
                **self.settings.headers}

    def build_request(self, request: ChatRequest, model: str, *, stream: bool) -> HttpRequest:
        extra = self.settings.extra
        body = build_body(request, safety_settings=extra.get("safety_settings"),
                          schema_field=extra.get("schema_field"))
        return json_api.post_json(self.endpoint_url(model, stream=stream), self.headers(), body,
                                  stream=stream, stream_accept=False)

    # --- response ------------------------------------------------------------

    @typed_parse
    def parse_response(self, response: HttpResponse, model: str) -> ChatResponse:
        data = json_api.json_body(response, provider=self.name, model=model,
                                  endpoint="generateContent")
        if isinstance(data, dict) and "error" in data and "candidates" not in data:
            raise error_from_data(data, status=None, headers=response.headers,
                                  provider=self.name, model=model, raw=response.content)
        with json_api.answered(response):
            return parse_generate_content(data, provider=self.name, model=model)

    @typed_error
    def parse_error(self, response: HttpResponse, model: str) -> ProviderError:
        return error_from_body(response.content, status=response.status,
                               headers=response.headers, provider=self.name, model=model)

    # --- catalog -------------------------------------------------------------

    def list_models_request(self) -> HttpRequest | None:
        return json_api.get_request(f"{self.base_url}/{self.api_version}/models?pageSize=1000",
                                    self.headers())

    @typed_parse
    def parse_models(self, response: HttpResponse) -> list[str]:
        """Ids of models that support ``generateContent`` (``models/`` prefix removed)."""
        items = json_api.model_items(response, "models", provider=self.name)
        names = json_api.model_names(items, "name", _generates)
        return [name.removeprefix("models/") for name in names]


def _generates(model: dict[str, Any]) -> bool:
    methods = model.get("supportedGenerationMethods")
    return not (isinstance(methods, list) and "generateContent" not in methods)


class VertexGeminiProvider(GeminiProvider):
    """Gemini through Vertex AI (``projects/{p}/locations/{l}/publishers/google/models``)."""

    type_name: ClassVar[str] = "vertex_gemini"
    pricing_id: ClassVar[str | None] = "google"  # id in the genai-prices dataset
    default_base_url: ClassVar[str | None] = None
    api_key_env: ClassVar[tuple[str, ...]] = ("GOOGLE_VERTEX_ACCESS_TOKEN",)
    default_api_version: ClassVar[str] = "v1"
    default_location: ClassVar[str] = "us-central1"
    catalog = VERTEX_MODELS

    def __init__(self, settings: ProviderSettings) -> None:
        super().__init__(settings)
        extra = settings.extra
        self.project: str | None = (
            settings.project or _str(extra.get("project"))
            or os.environ.get("GOOGLE_CLOUD_PROJECT") or None
        )
        self.location: str = (
            _str(extra.get("location")) or os.environ.get("GOOGLE_CLOUD_LOCATION")
            or self.default_location
        )

    @property
    def base_url(self) -> str:
        if self.settings.base_url:
            return self.settings.base_url.rstrip("/")
        if self.location == "global":
            return "https://aiplatform.googleapis.com"
        return f"https://{self.location}-aiplatform.googleapis.com"

    def is_configured(self) -> str | None:
        if not self.project:
            return "no Google Cloud project (set project, or GOOGLE_CLOUD_PROJECT)"
        return super().is_configured()

    def model_path(self, model: str) -> str:
        if not self.project:
            raise ConfigError(
                f"provider '{self.name}' has no Google Cloud project",
                field=f"providers.{self.name}.project",
                fix="set project (or extra.project), or export GOOGLE_CLOUD_PROJECT",
            )
        if model.startswith("projects/"):
            return model
        name = model if "/" in model else f"publishers/google/models/{quote(model, safe='.-_@')}"
        return f"projects/{self.project}/locations/{self.location}/{name}"

    def auth_headers(self) -> dict[str, str]:
        token = self.api_key()
        return {"Authorization": f"Bearer {token}"} if token else {}

    def list_models_request(self) -> HttpRequest | None:
        return None  # publisher models are listed by a v1beta1 API outside this plugin's scope

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.name!r} type={self.type_name!r} "
                f"project={self.project!r} location={self.location!r}>")


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
