"""Packaging and registration: entry point, hooks, catalog, env keys, Vertex settings."""

from __future__ import annotations

import importlib.metadata

import pytest

from polyroute.errors import ConfigError
from polyroute.plugins.manager import ENTRY_POINT_GROUP, PluginRegistry
from polyroute.providers.base import HttpResponse, ProviderSettings
from polyroute.types import Capability, ChatRequest, Message
from polyroute_gemini import MODELS, VERTEX_MODELS, GeminiProvider, VertexGeminiProvider
from polyroute_gemini import plugin as plugin_module
from polyroute_gemini.catalog import lookup

SECRET = "AIzaSy-SUPERSECRET-abcdefghijklmnopqrs"


def test_entry_point_is_installed() -> None:
    eps = {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert eps["gemini"].value == "polyroute_gemini.plugin"
    assert eps["gemini"].load() is plugin_module


def test_registry_discovers_both_types(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYROUTE_PLUGINS", "gemini")
    registry = PluginRegistry.create()
    assert not [f for f in registry.failures if f.name == "gemini"]
    assert issubclass(registry.provider_type("gemini"), GeminiProvider)  # + embeddings (embed.py)
    assert issubclass(registry.provider_type("vertex_gemini"), VertexGeminiProvider)  # + embeddings
    info = registry.model_info("gemini", "gemini-2.0-flash-001")  # alias
    assert info is not None and info.model == "gemini-2.0-flash"
    assert registry.model_info("vertex_gemini", "gemini-2.5-pro") is not None


def test_catalog() -> None:
    assert {m.model for m in MODELS} == {"gemini-2.5-pro", "gemini-2.5-flash",
                                         "gemini-2.5-flash-lite", "gemini-2.0-flash",
                                         "gemini-2.0-flash-lite"}
    for info in MODELS:
        assert info.provider_type == "gemini"
        assert info.context_window == 1_048_576 and info.max_output_tokens
        assert info.prices.input and info.prices.output
        assert info.prices.input < info.prices.output
        assert {Capability.TOOLS, Capability.VISION, Capability.JSON_SCHEMA,
                Capability.STREAMING, Capability.SYSTEM_PROMPT} <= info.capabilities
        if info.prices.cache_read is not None:
            assert info.prices.cache_read < info.prices.input
    pro = lookup("models/gemini-2.5-pro")
    assert pro is not None and (pro.prices.input, pro.prices.output) == (1.25, 10.0)
    assert Capability.REASONING in pro.capabilities
    flash2 = lookup("gemini-2.0-flash")
    assert flash2 is not None and Capability.REASONING not in flash2.capabilities
    assert {m.provider_type for m in VERTEX_MODELS} == {"vertex_gemini"}
    assert lookup("gpt-4o") is None


@pytest.mark.parametrize(("env", "other"), [("GOOGLE_API_KEY", "GEMINI_API_KEY"),
                                             ("GEMINI_API_KEY", "GOOGLE_API_KEY")])
def test_key_from_env(monkeypatch: pytest.MonkeyPatch, env: str, other: str) -> None:
    monkeypatch.delenv(other, raising=False)
    monkeypatch.setenv(env, SECRET)
    p = GeminiProvider(ProviderSettings(name="g", type="gemini"))
    assert p.is_configured() is None
    assert p.headers()["x-goog-api-key"] == SECRET


def test_google_api_key_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "AIzaSy-google-000000000000000000000")
    monkeypatch.setenv("GEMINI_API_KEY", "AIzaSy-gemini-000000000000000000000")
    p = GeminiProvider(ProviderSettings(name="g", type="gemini"))
    assert p.headers()["x-goog-api-key"].startswith("AIzaSy-google")


def test_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    p = GeminiProvider(ProviderSettings(name="g", type="gemini"))
    assert p.is_configured() == "no API key (GOOGLE_API_KEY is not set)"


def test_secret_never_in_repr_or_url() -> None:
    settings = ProviderSettings(name="g", type="gemini", api_key=SECRET,
                                headers={"x-goog-api-key": SECRET})
    p = GeminiProvider(settings)
    for text in (repr(p), str(p), repr(settings), str(settings)):
        assert SECRET not in text
    http = p.build_request(ChatRequest(messages=[Message.user("x")]), "gemini-2.5-flash",
                           stream=True)
    assert SECRET not in http.url and http.headers["x-goog-api-key"] == SECRET


def test_api_version_and_tuned_model() -> None:
    p = GeminiProvider(ProviderSettings(name="g", type="gemini", api_key="k", api_version="v1",
                                        base_url="https://proxy.example/"))
    assert p.endpoint_url("tunedModels/my-model-42", stream=False) == (
        "https://proxy.example/v1/tunedModels/my-model-42:generateContent")


def test_parse_models_filters_generate_content() -> None:
    # body shape from https://ai.google.dev/api/models#method:-models.list
    body = (b'{"models": [{"name": "models/gemini-2.5-flash", "supportedGenerationMethods": '
            b'["generateContent", "countTokens"]}, {"name": "models/text-embedding-004", '
            b'"supportedGenerationMethods": ["embedContent"]}], "nextPageToken": "x"}')
    p = GeminiProvider(ProviderSettings(name="g", type="gemini", api_key="k"))
    assert p.parse_models(HttpResponse(200, {}, body)) == ["gemini-2.5-flash"]


# --- Vertex AI -----------------------------------------------------------------


def test_vertex_url_and_bearer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_LOCATION", raising=False)
    p = VertexGeminiProvider(ProviderSettings(name="vx", type="vertex_gemini",
                                              api_key="ya29.token", project="proj-1"))
    http = p.build_request(ChatRequest(messages=[Message.user("x")]), "gemini-2.5-pro",
                           stream=True)
    assert http.url == ("https://us-central1-aiplatform.googleapis.com/v1/projects/proj-1/"
                        "locations/us-central1/publishers/google/models/gemini-2.5-pro:"
                        "streamGenerateContent?alt=sse")
    assert http.headers["Authorization"] == "Bearer ya29.token"
    assert "x-goog-api-key" not in http.headers
    assert p.models() == list(VERTEX_MODELS)
    assert p.list_models_request() is None
    assert "ya29.token" not in repr(p)


def test_vertex_env_and_global(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_VERTEX_ACCESS_TOKEN", "ya29.from-env")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-proj")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "global")
    p = VertexGeminiProvider(ProviderSettings(name="vx", type="vertex_gemini"))
    assert p.is_configured() is None
    assert p.endpoint_url("gemini-2.5-flash", stream=False) == (
        "https://aiplatform.googleapis.com/v1/projects/env-proj/locations/global/"
        "publishers/google/models/gemini-2.5-flash:generateContent")
    assert p.auth_headers() == {"Authorization": "Bearer ya29.from-env"}
    q = VertexGeminiProvider(ProviderSettings(name="vx", type="vertex_gemini",
                                              extra={"project": "x", "location": "asia-east1"}))
    assert q.endpoint_url("m", stream=False).startswith(
        "https://asia-east1-aiplatform.googleapis.com/v1/projects/x/locations/asia-east1/")


def test_vertex_without_project(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    p = VertexGeminiProvider(ProviderSettings(name="vx", type="vertex_gemini", api_key="t"))
    assert "GOOGLE_CLOUD_PROJECT" in (p.is_configured() or "")
    with pytest.raises(ConfigError, match="project"):
        p.build_request(ChatRequest(messages=[Message.user("x")]), "m", stream=False)
