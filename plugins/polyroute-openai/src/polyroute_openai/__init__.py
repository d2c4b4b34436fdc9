"""OpenAI, Azure OpenAI, Azure AI Foundry Models and OpenAI-compatible providers for polyroute
(sans-IO)."""

from polyroute_openai.azure import AzureOpenAIProvider
from polyroute_openai.azure_inference import AzureAIInferenceProvider
from polyroute_openai.catalog import openai_models
from polyroute_openai.provider import OpenAIProvider
from polyroute_openai.stream import OpenAIStreamParser
from polyroute_openai.templates import templates

__all__ = [
    "AzureAIInferenceProvider",
    "AzureOpenAIProvider",
    "OpenAIProvider",
    "OpenAIStreamParser",
    "openai_models",
    "templates",
]

__version__ = "0.1.0"
