"""Hostile bodies: every Mistral parser raises only polyroute's typed errors, and a
nonsensical usage count is an ``InvalidResponseError`` naming provider and model
(property-based; ``HYPOTHESIS_PROFILE=fuzz`` runs 10,000 cases, docs/testing.md)."""

from __future__ import annotations

from pathlib import Path

from polyroute.providers.base import ProviderSettings
from polyroute.testing import fuzz
from polyroute.testing.hostile import HostileParsers
from polyroute_mistral import MistralProvider

CASSETTES = Path(__file__).parents[3] / "cassettes" / "mistral_wire"
SAMPLES = fuzz.cassette_samples(CASSETTES).add(
    # a model list: cassettes hold none
    {"object": "list",
     "data": [{"id": "mistral-large-latest", "capabilities": {"completion_chat": True}}]},
)
PROVIDER = MistralProvider(ProviderSettings(name="mis", type="mistral", api_key="k-fuzz"))
MODEL = "mistral-large-latest"


class TestHostile(HostileParsers):
    provider = PROVIDER
    model = MODEL
    samples = SAMPLES
    usage_field = "completion_tokens"
