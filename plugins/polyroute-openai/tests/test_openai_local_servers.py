"""vLLM and LocalAI through the OpenAI-compatible templates: what differs from OpenAI.

References: https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html
("Extra Parameters"), https://docs.vllm.ai/en/latest/features/structured_outputs/
(``structured_outputs``; the ``guided_*`` fields removed in v0.12.0), and LocalAI's
readiness probe ``/readyz`` (https://localai.io, ``scripts/build/healthcheck.sh``
in github.com/mudler/LocalAI).
"""

from __future__ import annotations

from typing import Any

import pytest

from polyroute.config.providers import provider_settings
from polyroute.config.schema import ProviderConfig
from polyroute.plugins import PluginRegistry
from polyroute.providers.base import HttpResponse
from polyroute.types import ChatRequest, GenerationParams, Message, ResponseFormat
from polyroute_openai import plugin as openai_plugin
from polyroute_openai.provider import OpenAIProvider
from polyroute_openai.templates import health_url


@pytest.fixture(scope="module")
def registry() -> PluginRegistry:
    return PluginRegistry.create(load_entrypoints=False, plugins=[openai_plugin])


def provider(registry: PluginRegistry, template: str, **cfg: Any) -> OpenAIProvider:
    settings = provider_settings(template, ProviderConfig(template=template, **cfg), registry)
    prov = registry.provider_type(settings.type)(settings)
    assert isinstance(prov, OpenAIProvider)
    return prov


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VLLM_API_KEY", "VLLM_BASE_URL", "LOCALAI_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("name", "base", "health"), [
    ("vllm", "http://localhost:8000/v1", "http://localhost:8000/health"),
    ("localai", "http://localhost:8080/v1", "http://localhost:8080/readyz"),
])
def test_templates_need_no_key_and_know_their_endpoints(
    registry: PluginRegistry, name: str, base: str, health: str,
) -> None:
    prov = provider(registry, name)
    assert prov.is_configured() is None and prov.api_key() is None
    assert prov.base_url == base
    models = prov.list_models_request()
    assert models is not None and (models.method, models.url) == ("GET", f"{base}/models")
    assert "Authorization" not in models.headers
    assert health_url(prov.base_url, prov.settings.extra["health_path"]) == health


def test_health_url_keeps_prefixes() -> None:
    assert health_url("https://gpu.example.com/vllm/v1/", "/health") == (
        "https://gpu.example.com/vllm/health")
    assert health_url("http://h:8080", "readyz") == "http://h:8080/readyz"


def test_vllm_extra_sampling_params_pass_through(registry: PluginRegistry) -> None:
    prov = provider(registry, "vllm", base_url="http://gpu:8000/v1")
    params = GenerationParams(temperature=0.7, top_k=20, max_tokens=64, extra={
        "min_p": 0.05, "repetition_penalty": 1.1, "best_of": 2, "min_tokens": 4})
    body = prov.build_body(ChatRequest(messages=[Message.user("hi")], params=params),
                           "meta-llama/Llama-3.1-8B-Instruct", stream=False)
    assert body["top_k"] == 20 and body["max_tokens"] == 64  # legacy field for vLLM
    assert "max_completion_tokens" not in body
    assert {k: body[k] for k in ("min_p", "repetition_penalty", "best_of", "min_tokens")} == {
        "min_p": 0.05, "repetition_penalty": 1.1, "best_of": 2, "min_tokens": 4}


@pytest.mark.parametrize("extra", [
    {"structured_outputs": {"choice": ["positive", "negative"]}},          # vLLM >= 0.10.2
    {"structured_outputs": {"regex": r"\w+@\w+\.com\n"}},
    {"structured_outputs": {"json": {"type": "object"}}},
    {"guided_choice": ["positive", "negative"]},                            # vLLM < 0.12
    {"guided_json": {"type": "object", "properties": {"a": {"type": "integer"}}}},
])
def test_vllm_guided_decoding_via_extra(registry: PluginRegistry, extra: dict[str, Any]) -> None:
    prov = provider(registry, "vllm")
    body = prov.build_body(ChatRequest(messages=[Message.user("Classify: vLLM is wonderful!")],
                                       params=GenerationParams(extra=extra)), "m", stream=True)
    for key, value in extra.items():
        assert body[key] == value
    assert body["stream"] is True


def test_response_format_schema_still_native(registry: PluginRegistry) -> None:
    prov = provider(registry, "localai")
    fmt = ResponseFormat(type="json_schema", name="A", json_schema={"type": "object"})
    body = prov.build_body(ChatRequest(messages=[Message.user("x")], response_format=fmt),
                           "m", stream=False)
    assert body["response_format"]["type"] == "json_schema"


def test_vllm_model_list_body(registry: PluginRegistry) -> None:
    prov = provider(registry, "vllm")
    # GET /v1/models as vLLM answers it (OpenAI's list shape plus vLLM's max_model_len)
    raw = (b'{"object":"list","data":[{"id":"meta-llama/Llama-3.1-8B-Instruct",'
           b'"object":"model","created":1730000000,"owned_by":"vllm",'
           b'"root":"meta-llama/Llama-3.1-8B-Instruct","parent":null,"max_model_len":131072}]}')
    assert prov.parse_models(HttpResponse(200, {}, raw)) == ["meta-llama/Llama-3.1-8B-Instruct"]


def test_key_is_sent_when_the_server_has_one(
    registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("VLLM_API_KEY", "token-abc123-vllm-server")
    prov = provider(registry, "vllm")
    http = prov.build_request(ChatRequest(messages=[Message.user("x")]), "m", stream=False)
    assert http.headers["Authorization"] == "Bearer token-abc123-vllm-server"
