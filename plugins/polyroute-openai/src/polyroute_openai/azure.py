"""Azure OpenAI: the Chat Completions wire format behind per-deployment URLs.

Reference: https://learn.microsoft.com/azure/ai-services/openai/reference
(data plane - inference, GA ``2024-10-21``)::

    POST {endpoint}/openai/deployments/{deployment-id}/chat/completions?api-version=...
    api-key: <key>

The routed model name is the deployment name. The endpoint comes from
``base_url`` or ``AZURE_OPENAI_ENDPOINT``; the API version from ``api_version``
or ``OPENAI_API_VERSION`` (the variables the official SDKs read).
"""

from __future__ import annotations

import os
from typing import ClassVar
from urllib.parse import quote

from polyroute.errors import ConfigError
from polyroute.providers.base import HttpRequest
from polyroute.types import ModelInfo
from polyroute_openai.provider import OpenAIProvider

__all__ = ["DEFAULT_AZURE_API_VERSION", "AzureOpenAIProvider"]

DEFAULT_AZURE_API_VERSION = "2024-10-21"
"""Latest GA data-plane inference version at the time of writing."""

ENDPOINT_ENV = "AZURE_OPENAI_ENDPOINT"
API_VERSION_ENV = "OPENAI_API_VERSION"


class AzureOpenAIProvider(OpenAIProvider):
    type_name: ClassVar[str] = "azure_openai"
    pricing_id: ClassVar[str | None] = "azure"  # id in the genai-prices dataset
    default_base_url: ClassVar[str | None] = None
    api_key_env: ClassVar[tuple[str, ...]] = ("AZURE_OPENAI_API_KEY",)

    @property
    def base_url(self) -> str:
        url = self.settings.base_url or os.environ.get(ENDPOINT_ENV)
        if not url:
            raise ConfigError(
                f"provider '{self.name}' has no Azure endpoint",
                field=f"providers.{self.name}.base_url",
                fix=f"set base_url: https://<resource>.openai.azure.com or export {ENDPOINT_ENV}",
            )
        url = url.rstrip("/")
        return url.removesuffix("/openai")

    @property
    def api_version(self) -> str:
        return (
            self.settings.api_version
            or os.environ.get(API_VERSION_ENV)
            or DEFAULT_AZURE_API_VERSION
        )

    def endpoint_url(self, model: str) -> str:
        deployment = quote(str(self.settings.extra.get("deployment") or model), safe="")
        return (
            f"{self.base_url}/openai/deployments/{deployment}/chat/completions"
            f"?api-version={quote(self.api_version, safe='')}"
        )

    def auth_headers(self) -> dict[str, str]:
        key = self.api_key()
        return {"api-key": key} if key else {}

    def is_configured(self) -> str | None:
        if not (self.settings.base_url or os.environ.get(ENDPOINT_ENV)):
            return f"no Azure endpoint (base_url or {ENDPOINT_ENV} is not set)"
        return super().is_configured()

    def models(self) -> list[ModelInfo]:
        return []  # deployment names are the user's own

    def list_models_request(self) -> HttpRequest | None:
        return None
