"""Hostile bodies: every OpenAI parser raises only polyroute's typed errors, and a
nonsensical usage count is an ``InvalidResponseError`` naming provider and model
(property-based; ``HYPOTHESIS_PROFILE=fuzz`` runs 10,000 cases, docs/testing.md)."""

from __future__ import annotations

from pathlib import Path

from polyroute.providers.base import ProviderSettings
from polyroute.testing import fuzz
from polyroute.testing.hostile import HostileParsers
from polyroute_openai import OpenAIProvider

CASSETTES = Path(__file__).parents[3] / "cassettes" / "openai_wire"
SAMPLES = fuzz.cassette_samples(CASSETTES).add(
    # a model list: cassettes hold none
    {"object": "list",
     "data": [{"id": "gpt-4.1", "object": "model", "created": 1, "owned_by": "openai"}]},
)
PROVIDER = OpenAIProvider(ProviderSettings(name="oa", type="openai", api_key="sk-fuzz"))
MODEL = "gpt-4.1"


class TestHostile(HostileParsers):
    provider = PROVIDER
    model = MODEL
    samples = SAMPLES
    usage_field = "completion_tokens"
