"""Hostile bodies: every Cohere parser raises only polyroute's typed errors, and a
nonsensical usage count is an ``InvalidResponseError`` naming provider and model
(property-based; ``HYPOTHESIS_PROFILE=fuzz`` runs 10,000 cases, docs/testing.md)."""

from __future__ import annotations

from pathlib import Path

from polyroute.providers.base import ProviderSettings
from polyroute.testing import fuzz
from polyroute.testing.hostile import HostileParsers
from polyroute_cohere import CohereProvider

CASSETTES = Path(__file__).parents[3] / "cassettes" / "cohere_wire"
SAMPLES = fuzz.cassette_samples(CASSETTES).add(
    # a model list: cassettes hold none
    {"models": [{"name": "command-a-03-2025", "endpoints": ["chat"]}]},
)
PROVIDER = CohereProvider(ProviderSettings(name="co", type="cohere", api_key="k-fuzz"))
MODEL = "command-a-03-2025"


class TestHostile(HostileParsers):
    provider = PROVIDER
    model = MODEL
    samples = SAMPLES
    usage_field = "output_tokens"
