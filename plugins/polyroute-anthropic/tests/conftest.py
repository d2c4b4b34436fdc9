"""Shared fixtures for the Anthropic plugin tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from polyroute.providers.base import ProviderSettings, StreamParser
from polyroute.testing.streams import parse_stream
from polyroute.types import ChatChunk
from polyroute_anthropic import AnthropicProvider

TEST_KEY = "sk-ant-api03-TESTKEY-do-not-leak-0123456789"


@pytest.fixture
def provider() -> AnthropicProvider:
    return AnthropicProvider(
        ProviderSettings(name="anthropic", type="anthropic", api_key=TEST_KEY)
    )


@pytest.fixture
def run_stream() -> Callable[[StreamParser, bytes], list[ChatChunk]]:
    """Feed raw SSE bytes through ``SSEDecoder`` and ``parser``, then close both."""
    return parse_stream
