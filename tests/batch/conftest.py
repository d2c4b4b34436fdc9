"""Fixtures for batch tests: the scripted stand-in of ``batch_standin``."""

from __future__ import annotations

from collections.abc import Iterator

import echo_provider
import pytest
from batch_standin import ScriptedResponder

from polyroute.plugins import PluginRegistry
from polyroute.testing.standin import StandinServer


@pytest.fixture
def scripted() -> Iterator[tuple[StandinServer, ScriptedResponder]]:
    responder = ScriptedResponder()
    with StandinServer(responder) as server:
        yield server, responder
        responder.release()


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    return PluginRegistry.create(load_entrypoints=False, plugins=[echo_provider])
