"""``polyroute test``: every check, against OpenAI stand-ins — one healthy, one that
answers 401 — run in parallel, with a JSON report and a failing exit code."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import echo_provider
import pytest

from polyroute.plugins import PluginRegistry
from polyroute.testing.standin import Fault, StandinServer
from polyroute_openai import plugin as openai_plugin
from polyroute_openai.standin import OpenAIResponder

pytestmark = pytest.mark.standin


@pytest.fixture
def registry() -> PluginRegistry:  # overrides the echo-only registry of conftest.py
    return PluginRegistry.create(load_entrypoints=False,
                                 plugins=[openai_plugin, echo_provider])


@pytest.fixture
def healthy() -> Iterator[StandinServer]:
    with StandinServer(OpenAIResponder()) as server:
        yield server


@pytest.fixture
def locked() -> Iterator[StandinServer]:
    with StandinServer(OpenAIResponder(require_api_key="sk-right")) as server:
        yield server


def write(write_config, healthy: StandinServer, locked: StandinServer, **extra) -> str:  # type: ignore[no-untyped-def]
    return write_config({
        "providers": {
            "good": {"type": "openai", "base_url": healthy.url + "/v1", "api_key": "sk-any"},
            "bad": {"type": "openai", "base_url": locked.url + "/v1", "api_key": "sk-wrong"},
        },
        "agents": {"helper": {"model": "good:gpt-4.1-mini"}},
        **extra,
    })


def checks(report: dict, provider: str) -> dict[str, str]:  # type: ignore[type-arg]
    entry = next(p for p in report["providers"] if p["provider"] == provider)
    return {c["name"]: c["status"] for c in entry["checks"]}


def test_healthy_and_unauthorised_providers(run, write_config, healthy, locked,  # type: ignore[no-untyped-def]
                                            tmp_path: Path) -> None:
    write(write_config, healthy, locked)
    out = tmp_path / "report.json"
    result = run("test", "--report", str(out))
    assert result.exit_code == 1, result.output
    report = json.loads(out.read_text())
    assert report["ok"] is False
    assert checks(report, "good") == dict.fromkeys(
        ("config", "connectivity", "auth", "model", "completion", "streaming", "tools"), "pass")
    assert checks(report, "bad") == {
        "config": "pass", "connectivity": "pass", "auth": "fail", "model": "skip",
        "completion": "skip", "streaming": "skip", "tools": "skip"}
    bad = next(p for p in report["providers"] if p["provider"] == "bad")
    auth = next(c for c in bad["checks"] if c["name"] == "auth")
    assert auth["error_type"] == "AuthenticationError" and auth["status_code"] == 401
    good = next(p for p in report["providers"] if p["provider"] == "good")
    assert good["model"] == "gpt-4.1-mini"  # the model the config names for it
    tools = next(c for c in good["checks"] if c["name"] == "tools")
    assert tools["detail"].startswith("called get_time(")
    assert "1/2 providers passed every check" in result.stdout
    assert "sk-wrong" not in result.output and "sk-wrong" not in out.read_text()
    # the two providers ran at the same time: the locked one got only its model list call
    assert [r.path for r in locked.requests] == ["/v1/models"]
    paths = [r.path for r in healthy.requests]
    assert paths.count("/v1/chat/completions") == 3 and paths[0] == "/v1/models"


def test_one_named_provider_passes(run, write_config, healthy, locked) -> None:  # type: ignore[no-untyped-def]
    write(write_config, healthy, locked)
    result = run("test", "good", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [p["provider"] for p in report["providers"]] == ["good"] and report["ok"]


def test_a_missing_model_and_a_server_error_fail(run, write_config, healthy, locked) -> None:  # type: ignore[no-untyped-def]
    write(write_config, healthy, locked)
    result = run("test", "good", "--model", "gpt-9", "--json")
    assert result.exit_code == 1
    assert checks(json.loads(result.stdout), "good")["model"] == "fail"
    healthy.push(Fault.status(200), Fault.status(500))  # list ok, then the completion fails
    result = run("test", "good", "--json")
    report = json.loads(result.stdout)
    status = checks(report, "good")
    assert status["completion"] == "fail" and status["streaming"] == "pass"
    completion = report["providers"][0]["checks"][4]
    assert completion["error_type"] == "ServerError" and completion["status_code"] == 500


def test_unreachable_and_keyless(run, write_config, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    write_config({"providers": {
        "down": {"type": "openai", "base_url": "http://127.0.0.1:9/v1", "api_key": "sk-x"},
        "nokey": {"type": "openai"},
    }, "agents": {"a": {"model": "down:gpt-4.1"}}})
    result = run("test", "--json", "--timeout", "2")
    report = json.loads(result.stdout)
    assert result.exit_code == 1
    assert checks(report, "down")["connectivity"] == "fail"
    assert checks(report, "down")["completion"] == "skip"
    assert checks(report, "nokey")["config"] == "fail"
    nokey = next(p for p in report["providers"] if p["provider"] == "nokey")
    assert "OPENAI_API_KEY" in nokey["checks"][0]["detail"]


def test_usage_errors(run, write_config) -> None:  # type: ignore[no-untyped-def]
    assert run("test").exit_code == 2  # nothing configured, nothing named
    result = run("test", "nope")
    assert result.exit_code == 2 and "nope" in result.output


def test_progress_lines_then_a_table(run, write_config, healthy, locked) -> None:  # type: ignore[no-untyped-def]
    write(write_config, healthy, locked)
    result = run("test", "good")
    assert result.exit_code == 0
    assert "good: ok" in result.stderr
    assert "Provider checks" in result.stdout and "pass" in result.stdout
