"""Hostile bodies: every Gemini parser raises only polyroute's typed errors, and a
nonsensical usage count is an ``InvalidResponseError`` naming provider and model
(property-based; ``HYPOTHESIS_PROFILE=fuzz`` runs 10,000 cases, docs/testing.md)."""

from __future__ import annotations

from pathlib import Path

from polyroute.providers.base import ProviderSettings
from polyroute.testing import fuzz
from polyroute.testing.hostile import HostileParsers
from polyroute_gemini import GeminiProvider

CASSETTES = Path(__file__).parents[3] / "cassettes" / "gemini_wire"
SAMPLES = fuzz.cassette_samples(CASSETTES).add(
    # a model list: cassettes hold none
    {"models": [{"name": "models/gemini-2.5-flash",
                 "supportedGenerationMethods": ["generateContent"]}]},
)
PROVIDER = GeminiProvider(ProviderSettings(name="gem", type="gemini", api_key="k-fuzz"))
MODEL = "gemini-2.5-flash"


class TestHostile(HostileParsers):
    provider = PROVIDER
    model = MODEL
    samples = SAMPLES
    usage_field = "candidatesTokenCount"
