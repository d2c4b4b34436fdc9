from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "support"))

import echo_provider
from sleep_recorder import SleepRecorder

from polyroute.plugins import PluginRegistry
from polyroute.testing.standin import StandinServer


@pytest.fixture(scope="session")
def echo_registry() -> PluginRegistry:
    """Only the test echo provider: core tests depend on no first-party plugin."""
    return PluginRegistry.create(load_entrypoints=False, plugins=[echo_provider])


@pytest.fixture
def primary() -> Iterator[StandinServer]:
    with StandinServer(echo_provider.EchoResponder("primary")) as server:
        yield server


@pytest.fixture
def secondary() -> Iterator[StandinServer]:
    with StandinServer(echo_provider.EchoResponder("secondary")) as server:
        yield server


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()
