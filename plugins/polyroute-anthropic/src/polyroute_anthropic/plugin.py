"""pluggy hooks: register the ``anthropic`` provider type and the Claude catalog."""

from __future__ import annotations

from collections.abc import Callable

from polyroute import hookimpl
from polyroute.providers.base import Provider
from polyroute.types import ModelInfo
from polyroute_anthropic.catalog import MODELS
from polyroute_anthropic.provider import AnthropicProvider

__all__ = ["polyroute_register_models", "polyroute_register_provider_types"]


@hookimpl
def polyroute_register_provider_types(register: Callable[[type[Provider]], None]) -> None:
    register(AnthropicProvider)


@hookimpl
def polyroute_register_models(register: Callable[[ModelInfo], None]) -> None:
    for info in MODELS:
        register(info)
