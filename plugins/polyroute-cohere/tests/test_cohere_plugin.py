"""Packaging and registration: entry point, hooks, catalog, key handling."""

from __future__ import annotations

import importlib.metadata

import pytest

from polyroute.plugins.manager import ENTRY_POINT_GROUP, PluginRegistry
from polyroute.providers.base import ProviderSettings
from polyroute.types import Capability, ChatRequest, Message
from polyroute_cohere import MODELS, CohereProvider
from polyroute_cohere import plugin as plugin_module
from polyroute_cohere.catalog import lookup

SECRET = "co-SUPERSECRET-abcdefghijklmnopqrstu"


def test_entry_point_and_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    eps = {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert eps["cohere"].value == "polyroute_cohere.plugin"
    assert eps["cohere"].load() is plugin_module
    monkeypatch.setenv("POLYROUTE_PLUGINS", "cohere")
    registry = PluginRegistry.create()
    assert not [f for f in registry.failures if f.name == "cohere"]
    assert issubclass(registry.provider_type("cohere"), CohereProvider)  # + embeddings (embed.py)
    info = registry.model_info("cohere", "command-a")
    assert info is not None and info.model == "command-a-03-2025"


def test_catalog() -> None:
    for info in MODELS:
        assert info.provider_type == "cohere"
        assert info.context_window and info.max_output_tokens
        assert info.prices.input and info.prices.output
        assert info.prices.input < info.prices.output
    a = lookup("command-a-03-2025")
    assert a is not None and (a.prices.input, a.prices.output) == (2.5, 10.0)
    assert a.context_window == 256_000 and Capability.TOOLS in a.capabilities
    vision = lookup("command-a-vision-07-2025")
    assert vision is not None and Capability.VISION in vision.capabilities
    assert Capability.TOOLS not in vision.capabilities


@pytest.mark.parametrize(("env", "other"), [("CO_API_KEY", "COHERE_API_KEY"),
                                             ("COHERE_API_KEY", "CO_API_KEY")])
def test_key_from_env(monkeypatch: pytest.MonkeyPatch, env: str, other: str) -> None:
    monkeypatch.delenv(other, raising=False)
    monkeypatch.setenv(env, SECRET)
    p = CohereProvider(ProviderSettings(name="c", type="cohere"))
    assert p.is_configured() is None
    http = p.build_request(ChatRequest(messages=[Message.user("x")]), "m", stream=False)
    assert http.headers["Authorization"] == f"Bearer {SECRET}"
    assert SECRET not in repr(p) and SECRET not in repr(p.settings)


def test_missing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CO_API_KEY", raising=False)
    monkeypatch.delenv("COHERE_API_KEY", raising=False)
    p = CohereProvider(ProviderSettings(name="c", type="cohere"))
    assert p.is_configured() == "no API key (CO_API_KEY is not set)"
