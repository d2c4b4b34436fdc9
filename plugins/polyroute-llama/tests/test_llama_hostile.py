"""Hostile bodies: every Llama API parser raises only polyroute's typed errors, and a
nonsensical token count (a ``metrics[].value``) is an ``InvalidResponseError`` naming
provider and model (property-based; docs/testing.md)."""

from __future__ import annotations

from pathlib import Path

from polyroute.providers.base import ProviderSettings
from polyroute.testing import fuzz
from polyroute.testing.hostile import HostileParsers
from polyroute_llama import LlamaProvider

CASSETTES = Path(__file__).parents[3] / "cassettes" / "llama_wire"
SAMPLES = fuzz.cassette_samples(CASSETTES).add(
    {"data": [{"id": "Llama-3.3-70B-Instruct", "created": 1, "object": "model",
               "owned_by": "Meta"}]},
)


class TestHostile(HostileParsers):
    provider = LlamaProvider(ProviderSettings(name="meta", type="llama", api_key="k-fuzz"))
    model = "Llama-3.3-70B-Instruct"
    samples = SAMPLES
    usage_field = "value"
