"""Fixtures for the resilience tests: an injected clock whose sleeps move time."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.testing.standin import StandinServer

sys.path.insert(0, str(Path(__file__).parent))

from resilience_helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_router(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    clock: FakeClock,
) -> Iterator[Any]:
    """``make_router(**config_overrides)``: primary → secondary, echo protocol, fake clock."""
    routers: list[Router] = []

    def make(**overrides: Any) -> Router:
        config: dict[str, Any] = {
            "providers": {
                "primary": {"type": "echo", "base_url": primary.url},
                "secondary": {"type": "echo", "base_url": secondary.url},
            },
            "agents": {"bot": {"model": "primary:m1", "fallbacks": ["secondary:m2"]}},
            "retry": {"attempts": 3, "initial_backoff": 0.5, "max_backoff": 4},
            "timeouts": {"connect": 2, "read": 2, "total": 30},
        }
        config.update(overrides)
        router = Router(config, registry=echo_registry, sleep=clock.sleep, asleep=clock.asleep,
                        clock=clock)
        routers.append(router)
        return router

    yield make
    for r in routers:
        r.close()
