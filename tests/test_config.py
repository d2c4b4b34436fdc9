"""Config loading: YAML and TOML, env secrets, profiles, and errors that name
the file, the field and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyroute.config import load_config
from polyroute.errors import ConfigError, MissingSecretError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.routing.plan import parse_model_ref
from polyroute.secrets import Secret
from polyroute.types import ChatRequest, RoutingHints

GOOD = """
providers:
  main: {type: echo, base_url: "http://127.0.0.1:1", api_key: "env:ECHO_TEST_KEY"}
routes:
  qa:
    strategy: priority
    tiers:
      - [main:big, main/small]
      - main:tiny
agents:
  bot: {route: qa, temperature: 0.2}
  fixed: {model: "main:big", fallbacks: ["main:tiny"], max_tokens: 100}
default: qa
profiles:
  production:
    retry: {attempts: 5}
"""


def write(tmp_path: Path, text: str, name: str = "polyroute.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_yaml_config_loads_and_builds_a_router(
    tmp_path: Path, echo_registry: PluginRegistry
) -> None:
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.routes["qa"].tiers == [["main:big", "main/small"], ["main:tiny"]]
    assert cfg.agents["bot"].generation_params().temperature == 0.2
    router = Router(cfg, registry=echo_registry)
    plan = router.plan(ChatRequest(messages=[], routing=RoutingHints(agent="bot")))
    assert [[d.key for d in t] for t in plan.tiers] == [["main/big", "main/small"], ["main/tiny"]]


def test_profile_overlay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, GOOD)
    assert load_config(path).retry.attempts == 3
    assert load_config(path, profile="production").retry.attempts == 5
    monkeypatch.setenv("POLYROUTE_PROFILE", "production")
    assert load_config(path).retry.attempts == 5
    with pytest.raises(ConfigError, match="profile 'staging' is not defined"):
        load_config(path, profile="staging")


def test_toml_config_loads(tmp_path: Path) -> None:
    path = write(tmp_path, """
[providers.main]
type = "echo"
[agents.bot]
model = "main:m"
""", "polyroute.toml")
    assert load_config(path).agents["bot"].model == "main:m"


def test_typo_names_file_field_and_suggests_the_fix(tmp_path: Path) -> None:
    path = write(tmp_path, "providers:\n  main: {type: echo, api_kye: env:X}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert err.file == path and err.field == "providers.main.api_kye"
    assert err.fix == "did you mean 'api_key'?"
    assert path in str(err) and "providers.main.api_kye" in str(err)


def test_wrong_type_and_missing_fields(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "retry: {attempts: many}\n"))
    assert info.value.field == "retry.attempts" and info.value.fix == "use a number"
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "routes:\n  qa: {strategy: priority}\n"))
    assert info.value.field == "routes.qa.tiers" and info.value.fix == "add 'tiers'"
    with pytest.raises(ConfigError, match="give 'model'"):
        load_config(write(tmp_path, "agents:\n  bot: {temperature: 1}\n"))


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not valid YAML at line \d+, column \d+"):
        load_config(write(tmp_path, "providers:\n  main: [type: echo\n  bad\n"))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(str(tmp_path / "nope.yaml"))


@pytest.mark.parametrize(
    ("text", "field", "needle"),
    [
        ("agents:\n  bot: {route: nowhere}\n", "agents.bot.route",
         "route 'nowhere' is not defined"),
        ("agents:\n  bot: {model: 'ghost:m'}\n", "agents.bot.model", "provider 'ghost'"),
        ("agents:\n  bot: {model: 'plainmodel'}\n", "agents.bot.model", "does not name a provider"),
        ("providers:\n  x: {type: nosuch}\n", "providers.x.type", "unknown provider type 'nosuch'"),
        ("providers:\n  x: {template: nosuch}\n", "providers.x.template", "unknown template"),
        ("providers:\n  x: {type: echo}\nroutes:\n  r: {strategy: magic, tiers: [[x:m]]}\n",
         "routes.r.strategy", "unknown strategy 'magic'"),
    ],
)
def test_reference_errors_name_the_field(
    tmp_path: Path, echo_registry: PluginRegistry, text: str, field: str, needle: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        Router(load_config(path), registry=echo_registry)
    assert info.value.field == field
    assert needle in str(info.value)
    assert info.value.file == path


def test_env_secret_is_lazy_and_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLYROUTE_T_KEY", raising=False)
    secret = Secret("env:POLYROUTE_T_KEY")
    assert not secret.is_available()
    with pytest.raises(MissingSecretError, match="POLYROUTE_T_KEY"):
        secret.reveal()
    monkeypatch.setenv("POLYROUTE_T_KEY", "s3cret-value-123")
    assert secret.reveal() == "s3cret-value-123"
    assert "s3cret" not in repr(secret) and "s3cret" not in str(secret)


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("openai:gpt-4.1", ("openai", "gpt-4.1")),
        ("openai/gpt-4.1", ("openai", "gpt-4.1")),
        ("ollama:llama3.1:8b", ("ollama", "llama3.1:8b")),
        ("openrouter/meta-llama/llama-3-70b", ("openrouter", "meta-llama/llama-3-70b")),
        ("bedrock:anthropic.claude-3-5-sonnet-20240620-v1:0",
         ("bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0")),
        ("local/llama3.1:8b", ("local", "llama3.1:8b")),
    ],
)
def test_model_refs_split_on_the_first_separator(ref: str, expected: tuple[str, str]) -> None:
    assert parse_model_ref(ref) == expected
