"""``AzureAIInferenceProvider`` (Azure AI Foundry Models) against its stand-in: URL,
auth headers, ``extra-parameters``, errors and secrets. The wire itself is checked
against azure-ai-inference in tests/conformance/test_conformance_azure_inference.py."""

from __future__ import annotations

import pytest

from polyroute.errors import AuthenticationError, ConfigError, ProviderError, RateLimitError
from polyroute.plugins import PluginRegistry
from polyroute.plugins.known import KNOWN_PLUGINS
from polyroute.providers.base import ProviderSettings
from polyroute.secrets import Secret
from polyroute.testing import drive
from polyroute.testing.chat import WEATHER, user
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import GenerationParams
from polyroute_openai import AzureAIInferenceProvider, plugin
from polyroute_openai.azure_inference_standin import AzureInferenceResponder

KEY = "azure-inference-secret-key-123456"


def _provider(url: str | None, key: str | None = KEY, **extra: object) -> AzureAIInferenceProvider:
    return AzureAIInferenceProvider(ProviderSettings(
        name="foundry", type="azure_ai_inference", base_url=url,
        api_key=Secret(key) if key else None, extra=extra))


def test_without_an_endpoint_it_is_a_config_error_naming_the_field(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_INFERENCE_ENDPOINT", raising=False)
    p = _provider(None)
    assert p.is_configured() is not None and "AZURE_INFERENCE_ENDPOINT" in str(p.is_configured())
    with pytest.raises(ConfigError) as info:
        p.build_request(user("hi"), "m", stream=False)
    assert "providers.foundry.base_url" in str(info.value)


def test_endpoint_key_and_version_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_INFERENCE_ENDPOINT", "https://r.services.ai.azure.com/models/")
    monkeypatch.setenv("AZURE_INFERENCE_CREDENTIAL", "env-key-0000")
    monkeypatch.setenv("AZURE_INFERENCE_API_VERSION", "2025-05-01")
    req = _provider(None, key=None).build_request(user("hi"), "DeepSeek-R1", stream=True)
    assert req.url == ("https://r.services.ai.azure.com/models/chat/completions"
                       "?api-version=2025-05-01")
    assert req.headers["api-key"] == "env-key-0000"
    assert req.headers["Authorization"] == "Bearer env-key-0000"
    assert req.json["model"] == "DeepSeek-R1" and req.json["stream"] is True
    assert "stream_options" not in req.json


def test_the_key_never_shows_in_reprs() -> None:
    p = _provider("https://r.services.ai.azure.com/models")
    req = p.build_request(user("hi"), "m", stream=False)
    assert KEY not in repr(p) and KEY not in repr(req)


def test_answers_streams_and_tools_through_the_stand_in() -> None:
    with StandinServer(AzureInferenceResponder()) as server:
        p = _provider(server.url + "/models")
        r = drive.chat(p, user("hello there", params=GenerationParams(max_tokens=50)), "m")
        assert "hello there" in r.message.text and r.usage.input_tokens > 0
        chunks = list(drive.stream(p, user("stream me"), "m"))
        assert "stream me" in "".join(c.text or "" for c in chunks)
        assert any(c.usage is not None for c in chunks)  # usage unasked, on the last update
        r = drive.chat(p, user("weather in 'Oslo'?", tools=[WEATHER]), "m")
        assert r.message.tool_calls[0].arguments["city"] == "Oslo"
        sent = server.requests[-1]
        assert "extra-parameters" not in sent.headers and "max_tokens" not in sent.json()


def test_extra_body_fields_go_with_pass_through() -> None:
    with StandinServer(AzureInferenceResponder()) as server:
        p = _provider(server.url + "/models")
        req = user("hi", params=GenerationParams(extra={"safe_prompt": True}))
        assert drive.chat(p, req, "m").message.text
        assert server.requests[-1].headers["extra-parameters"] == "pass-through"
        strict = _provider(server.url + "/models", extra_parameters="error")
        with pytest.raises(ProviderError, match="Extra parameters"):
            drive.chat(strict, req, "m")


def test_errors_are_classified() -> None:
    with StandinServer(AzureInferenceResponder()) as server:
        server.push(Fault.status(429, retry_after=3), Fault.status(401))
        p = _provider(server.url + "/models")
        with pytest.raises(RateLimitError) as info:
            drive.chat(p, user("hi"), "m")
        assert info.value.retry_after == 3
        with pytest.raises(AuthenticationError) as auth:
            drive.chat(p, user("hi"), "m")
        assert KEY not in str(auth.value)


def test_registered_as_a_type_with_a_template() -> None:
    registry = PluginRegistry.create(load_entrypoints=False, plugins=[plugin])
    assert "azure_ai_inference" in registry.provider_types
    t = registry.templates["azure_ai"]
    assert (t.type, t.api_key_env, t.base_url_env) == (
        "azure_ai_inference", ("AZURE_INFERENCE_CREDENTIAL",), ("AZURE_INFERENCE_ENDPOINT",))
    assert KNOWN_PLUGINS["azure_ai_inference"] == "polyroute-openai"
