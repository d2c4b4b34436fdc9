"""Hostile bodies: every Ollama parser raises only polyroute's typed errors, and a
nonsensical usage count is an ``InvalidResponseError`` naming provider and model
(property-based; ``HYPOTHESIS_PROFILE=fuzz`` runs 10,000 cases, docs/testing.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from polyroute.providers.base import ProviderSettings, StreamEvent
from polyroute.testing import fuzz
from polyroute_ollama import OllamaProvider

CASSETTES = Path(__file__).parents[3] / "cassettes" / "ollama_wire"
SAMPLES = fuzz.cassette_samples(CASSETTES, framing="ndjson").add(
    # a model list: cassettes hold none
    {"models": [{"name": "llama3.1:latest", "model": "llama3.1:latest", "size": 1}]},
)
PROVIDER = OllamaProvider(ProviderSettings(name="local", type="ollama"))
MODEL = "llama3.1"
USAGE_CASES = fuzz.nonsense_usage_cases(SAMPLES, "eval_count", PROVIDER, MODEL)


@fuzz.per_family()
@given(case=fuzz.cases(SAMPLES))
def test_parsers_raise_only_typed_errors(case: fuzz.Case) -> None:
    fuzz.check_provider(PROVIDER, MODEL, case)


def test_usage_cases_cover_responses_and_streams() -> None:
    labels = {label[:6] for label, *_ in USAGE_CASES}
    assert labels == {"respon", "stream"}, labels


@pytest.mark.parametrize(("label", "bad", "body", "events"), USAGE_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(USAGE_CASES)])
def test_nonsense_usage_is_an_invalid_response(
    label: str, bad: Any, body: bytes | None, events: list[StreamEvent] | None,
) -> None:
    err = fuzz.assert_nonsense_usage_refused(PROVIDER, MODEL, body, events)
    assert "eval_count" in str(err)
