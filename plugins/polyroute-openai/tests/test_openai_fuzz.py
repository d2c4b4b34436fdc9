"""Property-based: every OpenAI parser on hostile bodies raises only polyroute's typed errors."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given

from polyroute.providers.base import ProviderSettings
from polyroute.testing import fuzz
from polyroute_openai import OpenAIProvider

SAMPLES = fuzz.cassette_samples(Path(__file__).parents[3] / "cassettes" / "openai_wire")
PROVIDER = OpenAIProvider(ProviderSettings(name="oa", type="openai", api_key="sk-fuzz"))


@given(case=fuzz.cases(SAMPLES))
def test_parsers_raise_only_typed_errors(case: fuzz.Case) -> None:
    fuzz.check_provider(PROVIDER, "gpt-4.1", case)
