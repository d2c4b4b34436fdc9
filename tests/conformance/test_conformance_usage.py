"""Cached and reasoning token counts, spelled as the SDKs declare them, reach ``Usage``.

For each provider whose SDK declares such counts, a stand-in answer gets non-zero values
in exactly those fields; the SDK's type must accept the body strictly (so the field
names and nesting are the SDK's), and our parser must report the counts. Mistral,
Ollama, Azure AI Inference and the Llama API SDKs declare no cached or reasoning counts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

for _sdk in ("openai", "anthropic", "google.genai", "cohere", "botocore"):
    pytest.importorskip(_sdk)

import botocore.session
from anthropic.types import Message as AnthropicMessage
from cohere.v2.types.v2chat_response import V2ChatResponse
from google.genai import types as gtypes
from openai.types.chat import ChatCompletion
from sdk_oracle import shape_problems, strict_model

from polyroute.providers.base import HttpResponse, Provider, ProviderSettings
from polyroute.testing import drive
from polyroute.testing.chat import user
from polyroute.testing.standin import Responder, StandinServer
from polyroute.types import Usage
from polyroute_anthropic import AnthropicProvider
from polyroute_anthropic.standin import AnthropicResponder
from polyroute_bedrock import BedrockProvider
from polyroute_bedrock.standin import BedrockResponder
from polyroute_cohere import CohereProvider
from polyroute_cohere.standin import CohereResponder
from polyroute_gemini import GeminiProvider
from polyroute_gemini.standin import GeminiResponder
from polyroute_openai import OpenAIProvider
from polyroute_openai.standin import OpenAIResponder


def _bedrock_check(raw: dict[str, Any]) -> None:
    service = botocore.session.get_session().get_service_model("bedrock-runtime")
    assert shape_problems(service.operation_model("Converse").output_shape, raw) == []


def _openai(d: dict[str, Any]) -> None:
    d["usage"]["prompt_tokens_details"]["cached_tokens"] = 7
    d["usage"]["completion_tokens_details"]["reasoning_tokens"] = 5


def _anthropic(d: dict[str, Any]) -> None:
    d["usage"].update(cache_read_input_tokens=7, cache_creation_input_tokens=3)


def _gemini(d: dict[str, Any]) -> None:
    d["usageMetadata"].update(cachedContentTokenCount=7, thoughtsTokenCount=5)


def _cohere(d: dict[str, Any]) -> None:
    d["usage"]["cached_tokens"] = 7


def _bedrock(d: dict[str, Any]) -> None:
    d["usage"].update(cacheReadInputTokens=7, cacheWriteInputTokens=3)


# provider type → (responder, provider, URL suffix, SDK check, set the counts, expected)
CASES: dict[str, tuple[Callable[[], Responder], type[Provider], str,
                       Callable[[dict[str, Any]], object], Callable[[dict[str, Any]], None],
                       dict[str, int]]] = {
    "openai": (OpenAIResponder, OpenAIProvider, "/v1",
               lambda d: strict_model(ChatCompletion, d), _openai,
               {"cache_read_tokens": 7, "reasoning_tokens": 5}),
    "anthropic": (AnthropicResponder, AnthropicProvider, "",
                  lambda d: strict_model(AnthropicMessage, d), _anthropic,
                  {"cache_read_tokens": 7, "cache_write_tokens": 3}),
    "gemini": (GeminiResponder, GeminiProvider, "",
               lambda d: strict_model(gtypes.GenerateContentResponse, d), _gemini,
               {"cache_read_tokens": 7, "reasoning_tokens": 5}),
    "cohere": (CohereResponder, CohereProvider, "",
               lambda d: strict_model(V2ChatResponse, d), _cohere, {"cache_read_tokens": 7}),
    "bedrock": (BedrockResponder, BedrockProvider, "", _bedrock_check, _bedrock,
                {"cache_read_tokens": 7, "cache_write_tokens": 3}),
}


@pytest.mark.parametrize("ptype", sorted(CASES))
def test_sdk_declared_cache_and_reasoning_counts_reach_usage(ptype: str) -> None:
    responder, provider_cls, suffix, sdk_check, set_counts, expected = CASES[ptype]
    with StandinServer(responder()) as server:
        extra = {"region": "us-east-1"} if ptype == "bedrock" else {}
        provider = provider_cls(ProviderSettings(name=ptype, type=ptype, api_key="k-usage-0000",
                                                 base_url=server.url + suffix, extra=extra))
        resp = drive.send(provider.build_request(user("count my tokens"), "m", stream=False))
    assert resp.status == 200
    data = json.loads(resp.content)
    set_counts(data)
    sdk_check(data)  # the SDK's type declares these fields, spelled and nested so
    usage = provider.parse_response(HttpResponse(200, resp.headers, json.dumps(data).encode()),
                                    "m").usage
    assert isinstance(usage, Usage)
    assert {k: getattr(usage, k) for k in expected} == expected
