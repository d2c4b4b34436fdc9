"""Azure, templates, catalog and plugin registration."""

from __future__ import annotations

import importlib.metadata
from typing import Any

import pytest

from polyroute.config.providers import provider_settings
from polyroute.config.schema import ProviderConfig
from polyroute.errors import ConfigError
from polyroute.plugins.manager import PluginRegistry
from polyroute.providers.base import ProviderSettings, ProviderTemplate
from polyroute.secrets import Secret
from polyroute.types import Capability, ChatRequest, Message, ModelInfo
from polyroute_openai import AzureOpenAIProvider, OpenAIProvider, plugin

AZ_KEY = "azure-key-0123456789abcdef"


def azure(**kw: Any) -> AzureOpenAIProvider:
    kw.setdefault("api_key", Secret(AZ_KEY))
    return AzureOpenAIProvider(ProviderSettings(name="az", type="azure_openai", **kw))


def test_azure_url_and_header() -> None:
    p = azure(base_url="https://my-res.openai.azure.com/", api_version="2024-10-21")
    req = p.build_request(ChatRequest(messages=[Message.user("hi")]), "gpt-4o-prod",
                          stream=True)
    assert req.url == ("https://my-res.openai.azure.com/openai/deployments/gpt-4o-prod/"
                       "chat/completions?api-version=2024-10-21")
    assert req.headers == {"api-key": AZ_KEY}
    assert "Authorization" not in req.headers
    assert req.framing == "sse" and req.json["stream_options"] == {"include_usage": True}
    assert AZ_KEY not in repr(p)


def test_azure_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://env-res.openai.azure.com/openai")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZ_KEY)
    monkeypatch.setenv("OPENAI_API_VERSION", "2025-01-01-preview")
    p = AzureOpenAIProvider(ProviderSettings(name="az", type="azure_openai"))
    assert p.is_configured() is None
    assert p.endpoint_url("dep 1") == (
        "https://env-res.openai.azure.com/openai/deployments/dep%201/chat/completions"
        "?api-version=2025-01-01-preview")
    assert p.auth_headers() == {"api-key": AZ_KEY}


def test_azure_defaults_and_missing_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AZURE_OPENAI_ENDPOINT", "OPENAI_API_VERSION", "AZURE_OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    p = AzureOpenAIProvider(ProviderSettings(name="az", type="azure_openai"))
    assert p.api_version == "2024-10-21"
    assert "AZURE_OPENAI_ENDPOINT" in (p.is_configured() or "")
    with pytest.raises(ConfigError):
        p.endpoint_url("x")
    p2 = azure(base_url="https://r.openai.azure.com")
    monkeypatch.delenv("AZURE_OPENAI_API_KEY", raising=False)
    assert p2.is_configured() is None
    p3 = AzureOpenAIProvider(ProviderSettings(name="az", type="azure_openai",
                                              base_url="https://r.openai.azure.com"))
    assert p3.is_configured() == "no API key (AZURE_OPENAI_API_KEY is not set)"


def collect_templates() -> dict[str, ProviderTemplate]:
    found: list[ProviderTemplate] = []
    plugin.polyroute_register_templates(register=found.append)
    return {t.name: t for t in found}


def expand(t: ProviderTemplate, **extra: Any) -> ProviderSettings:
    """What the core config does with ``{template: NAME}`` (the real expansion)."""
    registry = PluginRegistry.create(load_entrypoints=False, plugins=[plugin])
    return provider_settings(t.name, ProviderConfig(template=t.name, extra=extra), registry)


@pytest.mark.parametrize(("name", "url", "env", "max_field"), [
    ("groq", "https://api.groq.com/openai/v1", "GROQ_API_KEY", "max_completion_tokens"),
    ("openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", "max_tokens"),
    ("together", "https://api.together.xyz/v1", "TOGETHER_API_KEY", "max_tokens"),
    ("deepseek", "https://api.deepseek.com", "DEEPSEEK_API_KEY", "max_tokens"),
    ("vllm", "http://localhost:8000/v1", "VLLM_API_KEY", "max_tokens"),
    ("localai", "http://localhost:8080/v1", "LOCALAI_API_KEY", "max_tokens"),
])
def test_compatible_templates(monkeypatch: pytest.MonkeyPatch, name: str, url: str, env: str,
                              max_field: str) -> None:
    t = collect_templates()[name]
    assert t.type == "openai" and t.base_url == url and t.api_key_env == (env,)
    monkeypatch.setenv(env, "key-for-" + name + "-0123456789")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-must-not-leak-000000")
    p = OpenAIProvider(expand(t))
    req = p.build_request(
        ChatRequest(messages=[Message.user("hi")], params={"max_tokens": 9}),  # type: ignore[arg-type]
        "some-model", stream=False)
    assert req.url == url + "/chat/completions"
    assert req.headers["Authorization"] == f"Bearer key-for-{name}-0123456789"
    assert req.json[max_field] == 9
    # the template's env var is used, never OPENAI_API_KEY
    monkeypatch.delenv(env)
    p2 = OpenAIProvider(expand(t))
    if t.api_key_required:
        assert p2.is_configured() == f"no API key ({env} is not set)"
    else:
        assert "Authorization" not in p2.request_headers()


@pytest.mark.parametrize("name", ["vllm", "localai"])
def test_local_templates_need_no_key(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    t = collect_templates()[name]
    monkeypatch.delenv(t.api_key_env[0], raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-must-not-leak-000000")
    p = OpenAIProvider(expand(t))
    assert p.is_configured() is None
    assert "Authorization" not in p.request_headers()
    body = p.build_body(ChatRequest(messages=[Message.user("x")],
                                    params={"top_k": 5}), "m", stream=False)  # type: ignore[arg-type]
    assert body["top_k"] == 5


def test_openrouter_attribution(monkeypatch: pytest.MonkeyPatch) -> None:
    t = collect_templates()["openrouter"]
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-0123456789abcdef")
    monkeypatch.delenv("OR_SITE_URL", raising=False)
    monkeypatch.delenv("OR_APP_NAME", raising=False)
    assert "HTTP-Referer" not in OpenAIProvider(expand(t)).request_headers()
    headers = OpenAIProvider(expand(t, site_url="https://app.example", app_name="My App")
                             ).request_headers()
    assert headers["HTTP-Referer"] == "https://app.example"
    assert headers["X-Title"] == "My App"
    monkeypatch.setenv("OR_SITE_URL", "https://env.example")
    monkeypatch.setenv("OR_APP_NAME", "EnvApp")
    headers = OpenAIProvider(expand(t)).request_headers()
    assert (headers["HTTP-Referer"], headers["X-Title"]) == ("https://env.example", "EnvApp")


def test_azure_template(monkeypatch: pytest.MonkeyPatch) -> None:
    t = collect_templates()["azure"]
    assert t.type == "azure_openai"
    assert t.base_url_env == ("AZURE_OPENAI_ENDPOINT",)
    assert t.api_key_env == ("AZURE_OPENAI_API_KEY",)
    assert t.api_version_env == ("OPENAI_API_VERSION",)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZ_KEY)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://r.openai.azure.com")
    s = expand(t)
    assert s.base_url == "https://r.openai.azure.com"
    assert AzureOpenAIProvider(s).auth_headers() == {"api-key": AZ_KEY}


def test_templates_are_copies() -> None:
    a = collect_templates()["openrouter"]
    a.extra["header_sources"].clear()
    assert collect_templates()["openrouter"].extra["header_sources"]


def test_catalog() -> None:
    found: list[ModelInfo] = []
    plugin.polyroute_register_models(register=found.append)
    by_name = {m.model: m for m in found}
    for name in ("gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-4o", "gpt-4o-mini", "o3",
                 "o4-mini", "gpt-5", "gpt-5-mini"):
        info = by_name[name]
        assert info.provider_type == "openai"
        assert info.context_window and info.max_output_tokens
        assert info.prices.input and info.prices.output and info.prices.cache_read
        assert info.prices.cache_read < info.prices.input < info.prices.output
        assert Capability.TOOLS in info.capabilities
    assert Capability.REASONING in by_name["o3"].capabilities
    assert Capability.REASONING not in by_name["gpt-4.1"].capabilities
    assert by_name["gpt-5"].prices.input == 1.25


def test_provider_types_hook() -> None:
    found: list[type[Any]] = []
    plugin.polyroute_register_provider_types(register=found.append)
    assert {c.type_name for c in found} == {"openai", "azure_openai", "azure_ai_inference"}


def test_entry_point_is_installed() -> None:
    eps = {ep.name: ep for ep in importlib.metadata.entry_points(group="polyroute")}
    assert eps["openai"].value == "polyroute_openai.plugin"
    assert eps["openai"].load() is plugin


def test_registry_loads_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYROUTE_PLUGINS", "openai")
    registry = PluginRegistry.create()
    assert not registry.failures
    assert registry.provider_type("openai") is OpenAIProvider
    assert registry.provider_type("azure_openai") is AzureOpenAIProvider
    assert {"groq", "openrouter", "vllm", "azure"} <= set(registry.templates)
    info = registry.model_info("openai", "gpt-4.1-2025-04-14")
    assert info is not None and info.model == "gpt-4.1"


def test_models_only_for_openai_itself() -> None:
    p = OpenAIProvider(ProviderSettings(name="o", type="openai", api_key=Secret("k")))
    assert any(m.model == "gpt-5" for m in p.models())
    local = OpenAIProvider(ProviderSettings(name="l", type="openai",
                                            base_url="http://localhost:1/v1",
                                            api_key=Secret("k")))
    assert local.models() == []
