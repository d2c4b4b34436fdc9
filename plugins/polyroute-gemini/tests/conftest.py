"""Shared fixtures for the Gemini plugin tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from polyroute.providers.base import ProviderSettings, StreamParser
from polyroute.testing.streams import parse_stream
from polyroute.types import ChatChunk
from polyroute_gemini import GeminiProvider

TEST_KEY = "AIzaSy-TESTKEY-do-not-leak-0123456789ab"


@pytest.fixture
def provider() -> GeminiProvider:
    return GeminiProvider(ProviderSettings(name="gemini", type="gemini", api_key=TEST_KEY))


@pytest.fixture
def run_stream() -> Callable[[StreamParser, bytes], list[ChatChunk]]:
    """Feed raw SSE bytes through ``SSEDecoder`` and ``parser``, then close both."""
    return parse_stream
