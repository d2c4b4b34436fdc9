"""Per-provider debug lines: only the named providers, metadata only, redacted."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from polyroute.observability.debug import DebugGuard, JsonFormatter, debug_providers
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints

KEY = "sk-test-abcdefghijklmnopqrstuvwx"


def config(primary: StandinServer, secondary: StandinServer, **more: Any) -> dict[str, Any]:
    return {
        "providers": {"groq": {"type": "echo", "base_url": primary.url},
                      "local": {"type": "echo", "base_url": secondary.url}},
        "agents": {"bot": {"model": "groq:m1", "fallbacks": ["local:m2"]}},
        "retry": {"attempts": 1},
        **more,
    }


def ask(text: str = "my card 4111 1111 1111 1111") -> ChatRequest:
    return ChatRequest(messages=[Message.user(text)], routing=RoutingHints(agent="bot"))


def debug_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "polyroute.debug"]


def test_only_the_named_provider_is_logged_and_never_the_prompt(
        echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLYROUTE_DEBUG", raising=False)
    primary.push(Fault.status(500))
    caplog.set_level(logging.DEBUG, logger="polyroute")
    with Router(config(primary, secondary, debug=["groq"]), registry=echo_registry) as router:
        resp = router.chat(ask())
    assert resp.provider == "local"
    records = debug_records(caplog)
    events = [(r.polyroute["event"], r.polyroute["provider"]) for r in records]  # type: ignore[attr-defined]
    assert events == [("request", "groq"), ("response", "groq")]
    request, response = (r.polyroute for r in records)  # type: ignore[attr-defined]
    assert request["model"] == "m1" and request["messages"] == 1 and request["prompt_chars"] > 0
    assert response["ok"] is False and response["status"] == 500
    assert response["error"] == "ServerError"
    text = "\n".join(r.getMessage() for r in records)
    assert "4111 1111" not in text and "local" not in text  # a hex id may hold "4111"


def test_env_adds_providers_and_all_means_every_one(monkeypatch: pytest.MonkeyPatch) -> None:
    assert debug_providers(["groq"], env="anthropic, openai") == {"groq", "anthropic", "openai"}
    assert debug_providers([], env="all") == {"*"}
    assert debug_providers([], env="") == frozenset()
    monkeypatch.setenv("POLYROUTE_DEBUG", "local")
    assert debug_providers([]) == {"local"}


def test_env_turns_debug_on_without_config(
        echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYROUTE_DEBUG", "groq")
    caplog.set_level(logging.DEBUG, logger="polyroute")
    with Router(config(primary, secondary), registry=echo_registry) as router:
        router.chat(ask("hello"))
    assert [r.polyroute["event"] for r in debug_records(caplog)] == [  # type: ignore[attr-defined]
        "request", "response"]


def test_error_messages_are_scrubbed_of_secrets_and_pii(
        caplog: pytest.LogCaptureFixture) -> None:
    from polyroute.config.privacy import PrivacyConfig
    from polyroute.privacy import PrivacyPolicy
    from polyroute.refs import Deployment
    from polyroute.types import Attempt

    caplog.set_level(logging.DEBUG, logger="polyroute")
    guard = DebugGuard(frozenset({"groq"}), fmt="json",
                       privacy=PrivacyPolicy(PrivacyConfig()))
    dep = Deployment("groq", "m")
    ticket = guard.before_attempt(dep, ask())
    attempt = Attempt(provider="groq", model="m", ok=False, latency_ms=3.0,
                      error="BadRequestError", status=400,
                      message=f"bad key {KEY} for user jane@example.com", action="gave_up")
    guard.after_attempt(dep, ask(), ticket, attempt, None)
    line = JsonFormatter().format(debug_records(caplog)[-1])
    data = json.loads(line)
    assert data["event"] == "response" and data["provider"] == "groq"
    assert KEY not in line and "jane@example.com" not in line
    assert "[EMAIL]" in data["message"]


def test_json_format_from_the_environment_gives_one_object_per_line(
        echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYROUTE_LOG_FORMAT", "json")
    caplog.set_level(logging.DEBUG, logger="polyroute")
    with Router(config(primary, secondary, debug=["groq"]), registry=echo_registry) as router:
        router.chat(ask("hello"))
    lines = [json.loads(JsonFormatter().format(r)) for r in debug_records(caplog)]
    assert [(x["event"], x["level"], x["logger"]) for x in lines] == [
        ("request", "debug", "polyroute.debug"), ("response", "debug", "polyroute.debug")]
    assert lines[1]["output_tokens"] > 0 and lines[1]["ok"] is True


def test_no_debug_no_guard(echo_registry: PluginRegistry,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLYROUTE_DEBUG", raising=False)
    with Router({}, registry=echo_registry) as router:
        assert not any(isinstance(g, DebugGuard) for g in router.guards)
