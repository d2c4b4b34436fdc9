"""pluggy hooks: the ``bedrock`` provider type, its catalog and the ``aws-eventstream`` framing."""

from __future__ import annotations

from collections.abc import Callable

from polyroute import hookimpl
from polyroute.framing import FramingDecoder
from polyroute.providers.base import Provider
from polyroute.types import ModelInfo
from polyroute_bedrock.catalog import MODELS
from polyroute_bedrock.embed import BedrockEmbedProvider, embedding_model_infos
from polyroute_bedrock.eventstream import FRAMING, AwsEventStreamFraming

__all__ = [
    "polyroute_register_framings",
    "polyroute_register_models",
    "polyroute_register_provider_types",
]


@hookimpl
def polyroute_register_provider_types(register: Callable[[type[Provider]], None]) -> None:
    register(BedrockEmbedProvider)  # BedrockProvider + InvokeModel embeddings (embed.py)


@hookimpl
def polyroute_register_models(register: Callable[[ModelInfo], None]) -> None:
    for info in MODELS:
        register(info)
    for info in embedding_model_infos():
        register(info)


@hookimpl
def polyroute_register_framings(
    register: Callable[[str, Callable[[], FramingDecoder]], None],
) -> None:
    register(FRAMING, AwsEventStreamFraming)
