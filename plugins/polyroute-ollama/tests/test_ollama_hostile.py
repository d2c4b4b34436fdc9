"""Hostile bodies: every Ollama parser raises only polyroute's typed errors, and a
nonsensical usage count is an ``InvalidResponseError`` naming provider and model
(property-based; ``HYPOTHESIS_PROFILE=fuzz`` runs 10,000 cases, docs/testing.md)."""

from __future__ import annotations

from pathlib import Path

from polyroute.providers.base import ProviderSettings
from polyroute.testing import fuzz
from polyroute.testing.hostile import HostileParsers
from polyroute_ollama import OllamaProvider

CASSETTES = Path(__file__).parents[3] / "cassettes" / "ollama_wire"
SAMPLES = fuzz.cassette_samples(CASSETTES, framing="ndjson").add(
    # a model list: cassettes hold none
    {"models": [{"name": "llama3.1:latest", "model": "llama3.1:latest", "size": 1}]},
)
PROVIDER = OllamaProvider(ProviderSettings(name="local", type="ollama"))
MODEL = "llama3.1"


class TestHostile(HostileParsers):
    provider = PROVIDER
    model = MODEL
    samples = SAMPLES
    usage_field = "eval_count"
