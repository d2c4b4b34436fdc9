"""Hostile bodies: every Anthropic parser raises only polyroute's typed errors, and a
nonsensical usage count is an ``InvalidResponseError`` naming provider and model
(property-based; ``HYPOTHESIS_PROFILE=fuzz`` runs 10,000 cases, docs/testing.md)."""

from __future__ import annotations

from pathlib import Path

from polyroute.providers.base import ProviderSettings
from polyroute.testing import fuzz
from polyroute.testing.hostile import HostileParsers
from polyroute_anthropic import AnthropicProvider

CASSETTES = Path(__file__).parents[3] / "cassettes" / "anthropic_wire"
SAMPLES = fuzz.cassette_samples(CASSETTES).add(
    # a model list: cassettes hold none
    {"data": [{"id": "claude-sonnet-4-5", "type": "model", "display_name": "Claude"}],
     "has_more": False},
)
PROVIDER = AnthropicProvider(ProviderSettings(name="ant", type="anthropic", api_key="k-fuzz"))
MODEL = "claude-sonnet-4-5"


class TestHostile(HostileParsers):
    provider = PROVIDER
    model = MODEL
    samples = SAMPLES
    usage_field = "output_tokens"
