"""Presets for OpenAI-compatible endpoints, each with the URL and env vars its users know.

Each template pins its own key variable (``api_key_env``), so a template never
falls back to ``OPENAI_API_KEY``; local servers do not require a key
(``api_key_required=False``). ``extra`` keys ``max_tokens_field``/``accepts_top_k``
adapt the body to the server (see ``OpenAIProvider``'s module docstring).

Local servers (vLLM, LocalAI)
-----------------------------
What differs from OpenAI, and how to use it:

- **Extra sampling parameters** go in ``params.extra``, which the provider merges
  into the body verbatim (vLLM: "Extra Parameters",
  https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html):
  ``min_p``, ``repetition_penalty``, ``best_of``, ``use_beam_search``,
  ``min_tokens``, ``ignore_eos``, ``skip_special_tokens``... ``top_k`` is sent
  from ``params.top_k`` (``accepts_top_k``).
- **Guided decoding** (vLLM, https://docs.vllm.ai/en/latest/features/structured_outputs/):
  ``params.extra={"structured_outputs": {"choice": [...]}}`` (or ``"regex"``,
  ``"json"``, ``"grammar"``) on vLLM 0.10.2 and later; ``guided_choice``,
  ``guided_regex``, ``guided_json``, ``guided_grammar`` before — those were
  removed in v0.12.0, so send the spelling your server version knows.
  ``response_format`` ``json_schema`` works on both.
- **Model list**: ``GET {base_url}/models`` (``/v1/models``), as for OpenAI —
  ``OpenAIProvider.list_models_request``.
- **Health**: not under ``/v1``. ``extra["health_path"]`` names it — vLLM
  ``/health`` (200 when the engine is up), LocalAI ``/readyz`` (200 once ready;
  ``/healthz`` is liveness) — and ``health_url`` builds it from ``base_url``.
"""

from __future__ import annotations

from polyroute.providers.base import ProviderTemplate

__all__ = ["TEMPLATES", "health_url", "templates"]


def _t(
    name: str,
    description: str,
    base_url: str | None,
    key_env: str,
    docs_url: str,
    *,
    key_optional: bool = False,
    legacy_max_tokens: bool = False,
    top_k: bool = False,
    type: str = "openai",
    base_url_env: tuple[str, ...] = (),
    api_version_env: tuple[str, ...] = (),
    extra: dict[str, object] | None = None,
) -> ProviderTemplate:
    options: dict[str, object] = {}
    if legacy_max_tokens:
        options["max_tokens_field"] = "max_tokens"
    if top_k:
        options["accepts_top_k"] = True
        options["supported_params"] = [
            "temperature", "top_p", "top_k", "max_tokens", "stop", "frequency_penalty",
            "presence_penalty", "seed",
        ]
    options.update(extra or {})
    return ProviderTemplate(
        name=name,
        type=type,
        description=description,
        base_url=base_url,
        base_url_env=base_url_env,
        api_key_env=(key_env,),
        api_key_required=not key_optional,
        api_version_env=api_version_env,
        docs_url=docs_url,
        extra=options,
    )


TEMPLATES: tuple[ProviderTemplate, ...] = (
    _t(
        "groq", "Groq (OpenAI-compatible)", "https://api.groq.com/openai/v1", "GROQ_API_KEY",
        "https://console.groq.com/docs/openai",
    ),
    _t(
        "openrouter", "OpenRouter (OpenAI-compatible, many upstream models)",
        "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY",
        "https://openrouter.ai/docs/api-reference/overview",
        legacy_max_tokens=True, top_k=True,
        # App attribution (https://openrouter.ai/docs/app-attribution): HTTP-Referer
        # identifies the app, X-Title names it (X-OpenRouter-Title is the newer
        # spelling; X-Title stays supported).
        extra={
            "header_sources": {
                "HTTP-Referer": {"extra": "site_url", "env": "OR_SITE_URL"},
                "X-Title": {"extra": "app_name", "env": "OR_APP_NAME"},
            }
        },
    ),
    _t(
        "vllm", "vLLM OpenAI-compatible server", "http://localhost:8000/v1", "VLLM_API_KEY",
        "https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html",
        key_optional=True, legacy_max_tokens=True, top_k=True,
        base_url_env=("VLLM_BASE_URL",),
        # self-hosted: never priced from OpenAI's list (pricing_id "" = not in the dataset)
        extra={"health_path": "/health", "pricing_id": ""},
    ),
    _t(
        "localai", "LocalAI", "http://localhost:8080/v1", "LOCALAI_API_KEY",
        "https://localai.io/features/text-generation/",
        key_optional=True, legacy_max_tokens=True, top_k=True,
        extra={"health_path": "/readyz", "pricing_id": ""},
    ),
    _t(
        "together", "Together AI (OpenAI-compatible)", "https://api.together.xyz/v1",
        "TOGETHER_API_KEY", "https://docs.together.ai/docs/openai-api-compatibility",
        legacy_max_tokens=True, top_k=True,
    ),
    _t(
        "deepseek", "DeepSeek (OpenAI-compatible)", "https://api.deepseek.com",
        "DEEPSEEK_API_KEY", "https://api-docs.deepseek.com/",
        legacy_max_tokens=True,
    ),
    _t(
        "azure", "Azure OpenAI (deployment name = model)", None, "AZURE_OPENAI_API_KEY",
        "https://learn.microsoft.com/azure/ai-services/openai/reference",
        type="azure_openai",
        base_url_env=("AZURE_OPENAI_ENDPOINT",),
        api_version_env=("OPENAI_API_VERSION",),
    ),
    _t(
        "azure_ai", "Azure AI Foundry Models (Model Inference API; deployment name = model)",
        None, "AZURE_INFERENCE_CREDENTIAL",
        "https://learn.microsoft.com/rest/api/aifoundry/model-inference/get-chat-completions",
        type="azure_ai_inference",
        base_url_env=("AZURE_INFERENCE_ENDPOINT",),
        api_version_env=("AZURE_INFERENCE_API_VERSION",),
    ),
)


def health_url(base_url: str, health_path: str) -> str:
    """The server's health URL: ``health_path`` at the root above an ``/v1`` base URL."""
    root = base_url.rstrip("/")
    root = root.removesuffix("/v1")
    return f"{root}/{health_path.lstrip('/')}"


def templates() -> tuple[ProviderTemplate, ...]:
    """Fresh copies, so a config expanding one cannot change the preset."""
    return tuple(t.model_copy(deep=True) for t in TEMPLATES)
