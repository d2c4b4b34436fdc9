"""Two OpenAI stand-ins ("east" and "west": the same models, so the same spaces)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from polyroute.testing.routers import router_for
from polyroute.testing.sleeps import SleepRecorder
from polyroute.testing.standin import StandinServer
from polyroute_openai import plugin as openai_plugin
from polyroute_openai.embed_standin import OpenAIEmbedResponder


@pytest.fixture
def east() -> Iterator[StandinServer]:
    with StandinServer(OpenAIEmbedResponder()) as server:
        yield server


@pytest.fixture
def west() -> Iterator[StandinServer]:
    with StandinServer(OpenAIEmbedResponder()) as server:
        yield server


def providers(east: StandinServer, west: StandinServer) -> dict[str, Any]:
    return {
        "east": {"type": "openai", "base_url": east.url + "/v1", "api_key": "sk-east-secret"},
        "west": {"type": "openai", "base_url": west.url + "/v1", "api_key": "sk-west-secret"},
    }


@pytest.fixture
def make_router(east: StandinServer, west: StandinServer, tmp_path: Path) -> Any:
    """``make_router(embeddings_section, **top_level)`` → a Router (closed at teardown)."""
    stack: list[Any] = []

    def make(embeddings: dict[str, Any], *plugins: object, sleeps: SleepRecorder | None = None,
             **extra: Any) -> Any:
        cfg = {"providers": {**providers(east, west), **extra.pop("providers", {})},
               "embeddings": embeddings, **extra}
        cm = router_for(cfg, openai_plugin, *plugins, sleeps=sleeps)
        stack.append(cm)
        return cm.__enter__()

    yield make
    for cm in reversed(stack):
        cm.__exit__(None, None, None)
