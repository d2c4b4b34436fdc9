"""Hostile bodies: every Cohere parser raises only polyroute's typed errors, and a
nonsensical usage count is an ``InvalidResponseError`` naming provider and model
(property-based; ``HYPOTHESIS_PROFILE=fuzz`` runs 10,000 cases, docs/testing.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given

from polyroute.providers.base import ProviderSettings, StreamEvent
from polyroute.testing import fuzz
from polyroute_cohere import CohereProvider

CASSETTES = Path(__file__).parents[3] / "cassettes" / "cohere_wire"
SAMPLES = fuzz.cassette_samples(CASSETTES).add(
    # a model list: cassettes hold none
    {"models": [{"name": "command-a-03-2025", "endpoints": ["chat"]}]},
)
PROVIDER = CohereProvider(ProviderSettings(name="co", type="cohere", api_key="k-fuzz"))
MODEL = "command-a-03-2025"
USAGE_CASES = fuzz.nonsense_usage_cases(SAMPLES, "output_tokens", PROVIDER, MODEL)


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
    assert "output_tokens" in str(err)
