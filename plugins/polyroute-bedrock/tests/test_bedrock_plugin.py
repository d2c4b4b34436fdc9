"""Packaging and registration: entry point, hooks, catalog."""

from __future__ import annotations

import importlib.metadata

import pytest

from polyroute.framing import decoder_for
from polyroute.plugins.manager import ENTRY_POINT_GROUP, PluginRegistry
from polyroute.providers.base import ProviderSettings
from polyroute.types import Capability
from polyroute_bedrock import MODELS, AwsEventStreamFraming, BedrockProvider
from polyroute_bedrock import plugin as plugin_module
from polyroute_bedrock.catalog import lookup


def test_entry_point_is_installed() -> None:
    eps = {ep.name: ep for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)}
    assert eps["bedrock"].value == "polyroute_bedrock.plugin"
    assert eps["bedrock"].load() is plugin_module


def test_registry_discovers_type_models_and_framing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYROUTE_PLUGINS", "bedrock")
    registry = PluginRegistry.create()
    assert not [f for f in registry.failures if f.name == "bedrock"]
    assert issubclass(registry.provider_type("bedrock"), BedrockProvider)  # + embeddings
    info = registry.model_info("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert info is not None and info.model == "anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert isinstance(decoder_for("aws-eventstream"), AwsEventStreamFraming)


def test_catalog() -> None:
    for info in MODELS:
        assert info.provider_type == "bedrock" and info.context_window and info.max_output_tokens
        assert info.prices.input is not None and info.prices.output is not None
        assert Capability.STREAMING in info.capabilities
    sonnet = lookup("anthropic.claude-sonnet-4-5-20250929-v1:0")
    assert sonnet is not None and (sonnet.prices.input, sonnet.prices.output) == (3.0, 15.0)
    assert sonnet.prices.cache_write == pytest.approx(3.75)
    micro = lookup("amazon.nova-micro-v1:0")
    assert micro is not None and Capability.VISION not in micro.capabilities
    assert lookup("gpt-4o") is None


def test_provider_surface() -> None:
    prov = BedrockProvider(ProviderSettings(name="aws", type="bedrock",
                                            extra={"region": "eu-central-1", "auth": "bearer"}))
    assert prov.models() == list(MODELS)
    assert repr(prov) == "<BedrockProvider 'aws' type='bedrock' auth='bearer'>"
    assert prov.api_key_env == ("AWS_BEARER_TOKEN_BEDROCK",) and not prov.key_required
