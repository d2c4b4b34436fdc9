"""Packaging and registration: entry point, hooks, catalog, secrets hygiene."""

from __future__ import annotations

import importlib.metadata

import pytest

from polyroute.plugins.manager import ENTRY_POINT_GROUP, PluginRegistry
from polyroute.providers.base import ProviderSettings
from polyroute.types import Capability, ChatRequest, Message
from polyroute_ollama import MODELS, OllamaProvider
from polyroute_ollama import plugin as plugin_module
from polyroute_ollama.catalog import lookup

SECRET = "ollama-SUPERSECRET-abcdefghijklmnop"


def test_entry_point_is_installed() -> None:
    eps = {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert eps["ollama"].value == "polyroute_ollama.plugin"
    assert eps["ollama"].load() is plugin_module


def test_registry_discovers_provider_and_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYROUTE_PLUGINS", "ollama")
    registry = PluginRegistry.create()
    assert not [f for f in registry.failures if f.name == "ollama"]
    assert issubclass(registry.provider_type("ollama"), OllamaProvider)  # + embeddings (embed.py)
    info = registry.model_info("ollama", "llama3.2:latest")  # alias
    assert info is not None and info.model == "llama3.2"


def test_catalog_entries() -> None:
    for info in MODELS:
        assert info.provider_type == "ollama" and info.context_window
        assert (info.prices.input, info.prices.output) == (0.0, 0.0)  # local: free
        assert {Capability.STREAMING, Capability.JSON_SCHEMA} <= info.capabilities
    gpt_oss, llava = lookup("gpt-oss"), lookup("llava:latest")
    assert gpt_oss is not None and {Capability.TOOLS, Capability.REASONING} <= (
        gpt_oss.capabilities)
    assert llava is not None and Capability.VISION in llava.capabilities
    assert Capability.TOOLS not in llava.capabilities
    assert lookup("gpt-4o") is None


def test_num_ctx_caps_context_windows() -> None:
    plain = OllamaProvider(ProviderSettings(name="o", type="ollama"))
    assert plain.models() == list(MODELS)
    capped = OllamaProvider(ProviderSettings(name="o", type="ollama",
                                             extra={"options": {"num_ctx": 8192}}))
    windows = {m.model: m.context_window for m in capped.models()}
    assert windows["llama3.2"] == 8192 and windows["llava"] == 4096
    assert lookup("llama3.2").context_window == 131_072  # type: ignore[union-attr]


def test_no_key_needed_and_secret_never_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OLLAMA_API_KEY", raising=False)
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    assert OllamaProvider(ProviderSettings(name="o", type="ollama")).is_configured() is None
    settings = ProviderSettings(name="o", type="ollama", api_key=SECRET,
                                headers={"authorization": SECRET})
    provider = OllamaProvider(settings)
    for text in (repr(provider), str(provider), repr(settings)):
        assert SECRET not in text
    assert repr(provider) == "<OllamaProvider 'o' type='ollama' url='http://localhost:11434'>"
    http = provider.build_request(ChatRequest(messages=[Message.user("x")]), "m", stream=False)
    assert SECRET not in repr(http.json)


def test_list_models_and_health_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    from polyroute.providers.base import HttpResponse

    monkeypatch.setenv("OLLAMA_HOST", "box:1234")
    provider = OllamaProvider(ProviderSettings(name="o", type="ollama"))
    tags, health = provider.list_models_request(), provider.health_request()
    assert (tags.method, tags.url) == ("GET", "http://box:1234/api/tags")
    assert (health.method, health.url) == ("GET", "http://box:1234/api/version")
    # bodies from https://github.com/ollama/ollama/blob/main/docs/api.md
    # (sections "List Local Models" and "Version")
    body = (b'{"models":[{"name":"deepseek-r1:latest","model":"deepseek-r1:latest",'
            b'"size":4683075271},{"name":"llama3.2:latest","model":"llama3.2:latest"}]}')
    assert provider.parse_models(HttpResponse(200, {}, body)) == [
        "deepseek-r1:latest", "llama3.2:latest"]
    assert provider.parse_health(HttpResponse(200, {}, b'{"version": "0.5.1"}')) == "0.5.1"
