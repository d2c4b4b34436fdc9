"""Azure AI Foundry Models (Azure AI Model Inference API): chat completions of any model
deployed in a Foundry resource, Serverless API or Managed Compute endpoint.

Wire format, from the REST reference
(https://learn.microsoft.com/rest/api/aifoundry/model-inference/get-chat-completions)
and the official ``azure-ai-inference`` SDK (1.0.0b9, ``_patch.py`` /
``_operations.py``), which the conformance suite uses as the oracle::

    POST {endpoint}/chat/completions?api-version=2024-05-01-preview
    api-key: <key>                      # Foundry "unified" / Azure OpenAI endpoints
    Authorization: Bearer <key>         # Serverless API, Managed Compute, GitHub Models
    extra-parameters: pass-through      # only when the body has non-standard keys

    {"model": "<deployment name>", "messages": [...], "max_tokens": ..., ...}

The key goes in both headers, as the SDK sends it, because each endpoint kind reads
one of them. The endpoint is ``base_url`` (``https://<resource>.services.ai.azure.com/models``)
or ``AZURE_INFERENCE_ENDPOINT``; the key ``api_key`` or ``AZURE_INFERENCE_CREDENTIAL``
(the names ``langchain-azure-ai`` reads). The model routes by the ``model`` body field.

The body is OpenAI's, narrowed to the fields the Model Inference API defines
(``messages``, ``model``, ``frequency_penalty``, ``presence_penalty``, ``temperature``,
``top_p``, ``max_tokens``, ``stop``, ``seed``, ``response_format``, ``tools``,
``tool_choice``, ``stream``): anything else (``params.extra``, ``top_k``) makes the
service answer 422 unless ``extra-parameters: pass-through`` says to hand it to the
model, which this provider sets exactly then (``extra.extra_parameters`` overrides:
``"drop"`` or ``"error"``). Answers are OpenAI-shaped (``ChatCompletions``), parsed by
the OpenAI parser.
"""

from __future__ import annotations

import os
from typing import Any, ClassVar
from urllib.parse import quote

from polyroute.errors import ConfigError
from polyroute.providers.base import HttpRequest
from polyroute.types import ChatRequest, ModelInfo
from polyroute_openai.provider import OpenAIProvider

__all__ = ["DEFAULT_INFERENCE_API_VERSION", "STANDARD_FIELDS", "AzureAIInferenceProvider"]

DEFAULT_INFERENCE_API_VERSION = "2024-05-01-preview"
"""The version azure-ai-inference 1.0.0b9 sends (its ``_configuration.py`` default)."""

ENDPOINT_ENV = "AZURE_INFERENCE_ENDPOINT"
API_VERSION_ENV = "AZURE_INFERENCE_API_VERSION"

STANDARD_FIELDS = frozenset({
    "messages", "model", "frequency_penalty", "presence_penalty", "temperature", "top_p",
    "max_tokens", "stop", "seed", "response_format", "tools", "tool_choice", "stream",
})
_EXTRA_MODES = ("pass-through", "drop", "error")


class AzureAIInferenceProvider(OpenAIProvider):
    type_name: ClassVar[str] = "azure_ai_inference"
    pricing_id: ClassVar[str | None] = ""  # per-deployment prices: not in any dataset
    default_base_url: ClassVar[str | None] = None
    api_key_env: ClassVar[tuple[str, ...]] = ("AZURE_INFERENCE_CREDENTIAL",)
    supported_params: ClassVar[frozenset[str] | None] = frozenset(
        {"temperature", "top_p", "max_tokens", "stop", "frequency_penalty",
         "presence_penalty", "seed"}
    )

    @property
    def base_url(self) -> str:
        url = self.settings.base_url or os.environ.get(ENDPOINT_ENV)
        if not url:
            raise ConfigError(
                f"provider '{self.name}' has no Azure AI inference endpoint",
                field=f"providers.{self.name}.base_url",
                fix=("set base_url: https://<resource>.services.ai.azure.com/models "
                     f"or export {ENDPOINT_ENV}"),
            )
        return url.rstrip("/")

    @property
    def api_version(self) -> str:
        return (self.settings.api_version or os.environ.get(API_VERSION_ENV)
                or DEFAULT_INFERENCE_API_VERSION)

    def endpoint_url(self, model: str) -> str:
        return (f"{self.base_url}/chat/completions"
                f"?api-version={quote(self.api_version, safe='')}")

    def auth_headers(self) -> dict[str, str]:
        key = self.api_key()
        return {"api-key": key, "Authorization": f"Bearer {key}"} if key else {}

    def is_configured(self) -> str | None:
        if not (self.settings.base_url or os.environ.get(ENDPOINT_ENV)):
            return f"no Azure AI inference endpoint (base_url or {ENDPOINT_ENV} is not set)"
        return super().is_configured()

    def build_body(self, request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
        body = super().build_body(request, model, stream=stream)
        # the Model Inference API names the output cap max_tokens and has no
        # stream_options (usage comes in the last chunk unasked)
        if "max_completion_tokens" in body:
            body["max_tokens"] = body.pop("max_completion_tokens")
        body.pop("stream_options", None)
        return body

    def build_request(self, request: ChatRequest, model: str, *, stream: bool) -> HttpRequest:
        body = self.build_body(request, model, stream=stream)
        headers = self.request_headers()
        mode = self.settings.extra.get("extra_parameters")
        if mode in _EXTRA_MODES:
            headers["extra-parameters"] = str(mode)
        elif set(body) - STANDARD_FIELDS:
            headers["extra-parameters"] = "pass-through"
        return HttpRequest(method="POST", url=self.endpoint_url(model), headers=headers,
                           json=body, framing="sse" if stream else None)

    def models(self) -> list[ModelInfo]:
        return []  # the deployments are the user's own

    def list_models_request(self) -> HttpRequest | None:
        return None  # the API has no model list (GET /info describes one deployment)
