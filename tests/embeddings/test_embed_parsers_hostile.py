"""Every first-party embedding parser against hostile bodies: whatever arrives, only
polyroute's typed errors come out (``fuzz.typed_only``), in linear time. The samples
are what each plugin's own stand-in answers a request its provider built: valid
bodies that ``fuzz.mutated`` then breaks one or two places at a time."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polyroute.embed_types import EmbedRequest
from polyroute.errors import InvalidResponseError
from polyroute.providers.base import HttpResponse, ProviderSettings
from polyroute.testing import fuzz
from polyroute.testing.standin import StandinRequest
from polyroute_bedrock.embed import BedrockEmbedProvider
from polyroute_bedrock.embed_standin import BedrockEmbedResponder
from polyroute_cohere.embed import CohereEmbedProvider
from polyroute_cohere.embed_standin import CohereEmbedResponder
from polyroute_gemini.embed import GeminiEmbedProvider
from polyroute_gemini.embed_standin import GeminiEmbedResponder
from polyroute_gemini.vertex_embed import VertexEmbedProvider
from polyroute_gemini.vertex_embed_standin import VertexEmbedResponder
from polyroute_mistral.embed import MistralEmbedProvider
from polyroute_mistral.embed_standin import MistralEmbedResponder
from polyroute_ollama.embed import OllamaEmbedProvider
from polyroute_ollama.embed_standin import OllamaEmbedResponder
from polyroute_openai.embed import OpenAIEmbedProvider
from polyroute_openai.embed_standin import OpenAIEmbedResponder

REQUEST = EmbedRequest(texts=["alpha beta", "gamma"])
FAMILIES: dict[str, tuple[Any, Any, str]] = {
    "openai": (OpenAIEmbedProvider(ProviderSettings(name="o", type="openai", api_key="sk-x")),
               OpenAIEmbedResponder(), "text-embedding-3-small"),
    "cohere": (CohereEmbedProvider(ProviderSettings(name="c", type="cohere", api_key="co-x")),
               CohereEmbedResponder(), "embed-v4.0"),
    "gemini": (GeminiEmbedProvider(ProviderSettings(name="g", type="gemini", api_key="g-x")),
               GeminiEmbedResponder(), "gemini-embedding-001"),
    "vertex": (VertexEmbedProvider(ProviderSettings(name="v", type="vertex_gemini",
                                                    api_key="ya29.x", project="p")),
               VertexEmbedResponder(), "text-embedding-005"),
    "mistral": (MistralEmbedProvider(ProviderSettings(name="m", type="mistral", api_key="m-x")),
                MistralEmbedResponder(), "mistral-embed"),
    "ollama": (OllamaEmbedProvider(ProviderSettings(name="l", type="ollama")),
               OllamaEmbedResponder(), "nomic-embed-text"),
    "bedrock": (BedrockEmbedProvider(ProviderSettings(
        name="b", type="bedrock", extra={"aws_access_key_id": "AKIAFUZZFUZZFUZZFUZZ",
                                         "aws_secret_access_key": "fuzz-secret",
                                         "region": "us-east-1"})),
                BedrockEmbedResponder(), "amazon.titan-embed-text-v2:0"),
}


def _request(name: str) -> EmbedRequest:
    provider, _, model = FAMILIES[name]
    spec = provider.embed_spec(model)
    texts = REQUEST.texts[: (spec.limits.max_inputs if spec and spec.limits.max_inputs else 2)]
    return EmbedRequest(texts=texts)  # any width: samples are cut to 8 (``_small``)


def _sample(name: str) -> Any:
    """What the family's stand-in answers the request its provider builds."""
    provider, responder, model = FAMILIES[name]
    http = provider.build_embed_request(_request(name), model)
    body = http.content if http.content is not None else json.dumps(http.json).encode()
    url = urlsplit(http.url)
    reply = responder.answer(StandinRequest(
        http.method, url.path + (f"?{url.query}" if url.query else ""),
        {k.lower(): v for k, v in http.headers.items()}, body))
    assert reply.status == 200, (name, reply.body[:300])
    return json.loads(reply.body)


def _small(value: Any) -> Any:
    """The sample with every vector cut to 8 numbers: the same shapes, reprs hypothesis
    can print, parses that take microseconds."""
    if isinstance(value, list):
        if len(value) > 8 and all(isinstance(x, float) for x in value):
            return value[:8]
        return [_small(v) for v in value]
    if isinstance(value, dict):
        return {k: _small(v) for k, v in value.items()}
    return value


def _parse(name: str, body: bytes) -> Any:
    provider, _, model = FAMILIES[name]
    return provider.parse_embed_response(HttpResponse(200, {}, body), model, _request(name))


@pytest.mark.parametrize("name", FAMILIES)
def test_each_sample_parses(name: str) -> None:
    for sample in (_sample(name), _small(_sample(name))):
        out = _parse(name, json.dumps(sample).encode())
        assert len(out.vectors) == len(_request(name).texts)


_SAMPLES = {name: _small(_sample(name)) for name in FAMILIES}


@settings(fuzz.per_family(1_000), suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(FAMILIES)).flatmap(
    lambda name: st.tuples(st.just(name), fuzz.mutated([_SAMPLES[name]]) | fuzz.json_values())))
def test_hostile_bodies_raise_only_typed_errors(case: tuple[str, Any]) -> None:
    name, value = case
    try:
        body = json.dumps(value).encode()
    except (ValueError, TypeError):
        body = repr(value).encode()
    for variant in fuzz.variants(body):
        fuzz.typed_only(lambda v=variant: _parse(name, v))


@pytest.mark.parametrize("name", FAMILIES)
def test_a_huge_answer_is_parsed_in_linear_time(name: str) -> None:
    def seconds(copies: int) -> float:
        body = json.dumps([_SAMPLES[name]] * copies).encode()  # a list: refused, after reading
        t0 = time.perf_counter()
        err = fuzz.typed_only(lambda: _parse(name, body))
        assert err is None or isinstance(err, InvalidResponseError) or err
        return time.perf_counter() - t0

    small, big = min(seconds(200) for _ in range(3)), min(seconds(2000) for _ in range(3))
    assert big < small * 10 * 4 + 0.05  # 10x the input: well under 40x the time
