"""Hook implementations: what polyroute-openai registers with polyroute.

Loaded through ``[project.entry-points.polyroute] openai = "polyroute_openai.plugin"``.
"""

from __future__ import annotations

from collections.abc import Callable

from polyroute import hookimpl
from polyroute.providers.base import Provider, ProviderTemplate
from polyroute.types import ModelInfo
from polyroute_openai.azure import AzureOpenAIProvider
from polyroute_openai.azure_inference import AzureAIInferenceProvider
from polyroute_openai.catalog import openai_models
from polyroute_openai.provider import OpenAIProvider
from polyroute_openai.templates import templates

__all__ = [
    "polyroute_register_models",
    "polyroute_register_provider_types",
    "polyroute_register_templates",
]


@hookimpl
def polyroute_register_provider_types(register: Callable[[type[Provider]], None]) -> None:
    register(OpenAIProvider)
    register(AzureOpenAIProvider)
    register(AzureAIInferenceProvider)


@hookimpl
def polyroute_register_templates(register: Callable[[ProviderTemplate], None]) -> None:
    for template in templates():
        register(template)


@hookimpl
def polyroute_register_models(register: Callable[[ModelInfo], None]) -> None:
    for info in openai_models():
        register(info)
