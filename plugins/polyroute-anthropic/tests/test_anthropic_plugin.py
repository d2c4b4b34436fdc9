"""Packaging and registration: entry point, hooks, catalog, secrets hygiene."""

from __future__ import annotations

import importlib.metadata

import pytest

from polyroute.plugins.manager import ENTRY_POINT_GROUP, PluginRegistry
from polyroute.providers.base import ProviderSettings
from polyroute.types import Capability, ChatRequest, Message
from polyroute_anthropic import MODELS, AnthropicProvider
from polyroute_anthropic import plugin as plugin_module
from polyroute_anthropic.catalog import lookup

SECRET = "sk-ant-api03-SUPERSECRET-abcdefghijklmnop"


def test_entry_point_is_installed() -> None:
    eps = {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert "anthropic" in eps
    assert eps["anthropic"].value == "polyroute_anthropic.plugin"
    assert eps["anthropic"].load() is plugin_module


def test_registry_discovers_provider_and_models(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYROUTE_PLUGINS", "anthropic")
    registry = PluginRegistry.create()
    assert not [f for f in registry.failures if f.name == "anthropic"]
    assert registry.provider_type("anthropic") is AnthropicProvider
    info = registry.model_info("anthropic", "claude-sonnet-4-5-20250929")  # alias
    assert info is not None and info.model == "claude-sonnet-4-5"


def test_registry_with_explicit_plugin_object() -> None:
    registry = PluginRegistry.create(load_entrypoints=False, plugins=[plugin_module])
    assert registry.provider_types["anthropic"] is AnthropicProvider
    assert ("anthropic", "claude-haiku-4-5") in registry.models


def test_catalog_entries() -> None:
    names = {m.model for m in MODELS}
    assert {"claude-opus-4-1", "claude-sonnet-4-5", "claude-sonnet-4-0", "claude-haiku-4-5",
            "claude-3-5-haiku-latest"} <= names
    for info in MODELS:
        assert info.provider_type == "anthropic"
        assert info.context_window and info.max_output_tokens
        p = info.prices
        assert p.input and p.output and p.cache_read and p.cache_write
        assert p.cache_write == pytest.approx(p.input * 1.25)
        assert p.cache_read == pytest.approx(p.input * 0.1)
        assert Capability.TOOLS in info.capabilities
    sonnet = lookup("claude-sonnet-4-5")
    assert sonnet is not None and (sonnet.prices.input, sonnet.prices.output) == (3.0, 15.0)
    assert lookup("claude-3-5-haiku-20241022") is lookup("claude-3-5-haiku-latest")
    assert lookup("gpt-4o") is None


def test_provider_models_and_type() -> None:
    provider = AnthropicProvider(ProviderSettings(name="a", type="anthropic", api_key=SECRET))
    assert provider.type_name == "anthropic"
    assert provider.models() == list(MODELS)
    assert provider.default_base_url == "https://api.anthropic.com"


def test_secret_never_in_repr_or_str() -> None:
    settings = ProviderSettings(name="claude", type="anthropic", api_key=SECRET,
                                headers={"x-api-key": SECRET})
    provider = AnthropicProvider(settings)
    for text in (repr(provider), str(provider), repr(settings), str(settings),
                 repr(settings.api_key)):
        assert SECRET not in text
    # the key does go on the wire, and only there
    http = provider.build_request(ChatRequest(messages=[Message.user("x")]), "m", stream=False)
    assert http.headers["x-api-key"] == SECRET
    assert SECRET not in repr(http.json)


def test_list_models_request_and_parse() -> None:
    from polyroute.providers.base import HttpResponse

    provider = AnthropicProvider(ProviderSettings(name="a", type="anthropic", api_key=SECRET))
    req = provider.list_models_request()
    assert (req.method, req.url) == ("GET", "https://api.anthropic.com/v1/models")
    assert req.headers["anthropic-version"] == "2023-06-01"
    # body shape from https://docs.claude.com/en/api/models-list
    body = (b'{"data": [{"type": "model", "id": "claude-sonnet-4-5-20250929", '
            b'"display_name": "Claude Sonnet 4.5", "created_at": "2025-09-29T00:00:00Z"}], '
            b'"has_more": false, "first_id": "claude-sonnet-4-5-20250929", '
            b'"last_id": "claude-sonnet-4-5-20250929"}')
    assert provider.parse_models(HttpResponse(200, {}, body)) == ["claude-sonnet-4-5-20250929"]
