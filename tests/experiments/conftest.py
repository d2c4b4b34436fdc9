"""An echo stand-in and a config with one experiment on an agent, for experiment tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import echo_provider
import pytest

from polyroute.plugins import PluginRegistry
from polyroute.testing.standin import StandinServer


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    return PluginRegistry.create(load_entrypoints=False, plugins=[echo_provider])


@pytest.fixture
def server() -> Iterator[StandinServer]:
    with StandinServer(echo_provider.EchoResponder("standin")) as s:
        yield s


def experiment_config(url: str, ledger: Path | None, **experiment: Any) -> dict[str, Any]:
    exp: dict[str, Any] = {
        "agent": "bot", "key": "user",
        "variants": {"control": {"weight": 1}, "mini": {"weight": 1, "model": "a:mini",
                                                         "temperature": 0.7}},
    }
    exp.update(experiment)
    cfg: dict[str, Any] = {
        "providers": {"a": {"type": "echo", "base_url": url}},
        "models": {"a/big": {"prices": {"input": 3.0, "output": 15.0}},
                   "a/mini": {"prices": {"input": 0.15, "output": 0.6}},
                   "a/long": {"prices": {"input": 1.0, "output": 4.0}}},
        "routes": {"long_context": {"tiers": [["a:long"]]}},
        "agents": {"bot": {"model": "a:big", "temperature": 0.2, "tags": {"team": "support"}}},
        "experiments": {"summary": exp},
        "retry": {"attempts": 1},
    }
    if ledger is not None:
        cfg["ledger"] = {"path": str(ledger), "sync": True}
    return cfg


@pytest.fixture
def make_config() -> Any:
    return experiment_config
