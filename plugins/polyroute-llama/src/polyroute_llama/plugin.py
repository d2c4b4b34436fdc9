"""pluggy hooks: register the ``llama`` provider type and the Llama API catalog."""

from __future__ import annotations

from collections.abc import Callable

from polyroute import hookimpl
from polyroute.providers.base import Provider
from polyroute.types import ModelInfo
from polyroute_llama.catalog import MODELS
from polyroute_llama.provider import LlamaProvider

__all__ = ["polyroute_register_models", "polyroute_register_provider_types"]


@hookimpl
def polyroute_register_provider_types(register: Callable[[type[Provider]], None]) -> None:
    register(LlamaProvider)


@hookimpl
def polyroute_register_models(register: Callable[[ModelInfo], None]) -> None:
    for info in MODELS:
        register(info)
