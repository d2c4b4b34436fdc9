"""Packaging and registration: entry point, hooks, catalog, key handling."""

from __future__ import annotations

import importlib.metadata

import pytest

from polyroute.plugins.manager import ENTRY_POINT_GROUP, PluginRegistry
from polyroute.providers.base import ProviderSettings
from polyroute.types import Capability, ChatRequest, Message
from polyroute_mistral import MODELS, MistralProvider
from polyroute_mistral import plugin as plugin_module
from polyroute_mistral.catalog import lookup

SECRET = "mistral-SUPERSECRET-abcdefghijklmnop"


def test_entry_point_and_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    eps = {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert eps["mistral"].value == "polyroute_mistral.plugin"
    assert eps["mistral"].load() is plugin_module
    monkeypatch.setenv("POLYROUTE_PLUGINS", "mistral")
    registry = PluginRegistry.create()
    assert not [f for f in registry.failures if f.name == "mistral"]
    assert issubclass(registry.provider_type("mistral"), MistralProvider)  # + embeddings (embed.py)
    info = registry.model_info("mistral", "mistral-large-2411")
    assert info is not None and info.model == "mistral-large-latest"


def test_catalog() -> None:
    for info in MODELS:
        assert info.provider_type == "mistral"
        assert info.context_window and info.max_output_tokens == info.context_window
        assert info.prices.input and info.prices.output
        assert info.prices.input <= info.prices.output
        assert Capability.TOOLS in info.capabilities
    large = lookup("mistral-large-latest")
    assert large is not None and (large.prices.input, large.prices.output) == (2.0, 6.0)
    small = lookup("mistral-small-latest")
    assert small is not None and Capability.VISION in small.capabilities
    magistral = lookup("magistral-medium-latest")
    assert magistral is not None and Capability.REASONING in magistral.capabilities
    assert lookup("gpt-4o") is None


def test_key_from_env_and_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MISTRAL_API_KEY", SECRET)
    p = MistralProvider(ProviderSettings(name="m", type="mistral"))
    assert p.is_configured() is None
    http = p.build_request(ChatRequest(messages=[Message.user("x")]), "m", stream=False)
    assert http.headers["Authorization"] == f"Bearer {SECRET}"
    assert SECRET not in repr(p) and SECRET not in repr(p.settings)
    monkeypatch.delenv("MISTRAL_API_KEY")
    q = MistralProvider(ProviderSettings(name="m", type="mistral"))
    assert q.is_configured() == "no API key (MISTRAL_API_KEY is not set)"


def test_catalog_only_for_la_plateforme() -> None:
    p = MistralProvider(ProviderSettings(name="m", type="mistral", api_key="k"))
    assert p.models() == list(MODELS)
    own = MistralProvider(ProviderSettings(name="m", type="mistral", api_key="k",
                                           base_url="http://gpu-box:8000/v1"))
    assert own.models() == []
    req = own.list_models_request()
    assert req is not None and req.url == "http://gpu-box:8000/v1/models"
