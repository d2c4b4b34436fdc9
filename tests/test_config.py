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


# --- hardening (issue 9) -------------------------------------------------------


@pytest.mark.parametrize(
    ("profiles", "field"),
    [
        ("{production: 5}", "profiles.production"),
        ("{production: [retry]}", "profiles.production"),
        ("{production: 'attempts: 5'}", "profiles.production"),
        ("{production: null}", "profiles.production"),
        ("5", "profiles"),
        ("production", "profiles"),
        ("[production]", "profiles"),
    ],
)
def test_malformed_profile_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profiles: str, field: str
) -> None:
    path = write(tmp_path, f"providers:\n  main: {{type: echo}}\nprofiles: {profiles}\n")
    monkeypatch.setenv("POLYROUTE_PROFILE", "production")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert err.file == path and err.field == field
    assert err.fix and "profiles: {production: {" in err.fix


def test_non_utf8_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "polyroute.yaml"
    path.write_bytes(b"providers:\n  main: {type: echo, base_url: \xff\xfe}\n")
    with pytest.raises(ConfigError, match="not UTF-8") as info:
        load_config(path)
    assert info.value.file == str(path) and "UTF-8" in (info.value.fix or "")


def test_yaml_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    # nine levels of nine aliases: 9**9 (387 million) values from 10 short lines
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    text = "providers:\n  main:\n    type: echo\n    extra:\n" + "".join(
        f"      {line}\n" for line in lines
    )
    with pytest.raises(ConfigError, match="expands to more than") as info:
        load_config(write(tmp_path, text))
    assert info.value.fix and "alias" in info.value.fix


def test_self_referencing_yaml_alias_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="expands to more than"):
        load_config(write(tmp_path, "providers: &p {main: {type: echo, extra: *p}}\n"))


@pytest.mark.parametrize("text", ["x: " + "[" * 5000 + "]" * 5000 + "\n",
                                  "x: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n"])
def test_runaway_nesting_is_a_config_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert info.value.file is not None and info.value.fix


def test_every_schema_problem_is_listed_with_its_own_field_and_fix(tmp_path: Path) -> None:
    path = write(tmp_path, "retry: {attempts: many}\nroutes:\n  qa: {strategy: priority}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    err = info.value
    assert sorted((p.field, p.fix) for p in err.problems) == [
        ("retry.attempts", "use a number"), ("routes.qa.tiers", "add 'tiers'")]
    assert all(p.file == path for p in err.problems)
    assert err.fix == "fix each problem listed"


def test_router_reports_every_dangling_reference(
    tmp_path: Path, echo_registry: PluginRegistry
) -> None:
    path = write(tmp_path, """
providers:
  x: {type: echo}
routes:
  r: {strategy: lowest_cots, tiers: [[x:m, ghost:m]]}
agents:
  a: {route: nowhere}
  b: {model: "openai:"}
""")
    with pytest.raises(ConfigError) as info:
        Router(load_config(path), registry=echo_registry)
    fields = [p.field for p in info.value.problems]
    assert fields == ["agents.a.route", "routes.r.strategy", "agents.b.model",
                      "routes.r.tiers[0][1]"]
    assert info.value.problems[1].fix == "did you mean 'lowest_cost'?"


@pytest.mark.parametrize(
    ("ref", "reason", "fix"),
    [
        ("openai:", "names provider 'openai' but no model", "e.g. openai:gpt-4.1-mini"),
        ("openai/", "names provider 'openai' but no model", "e.g. openai/gpt-4.1-mini"),
        ("gpt-4.1", "does not name a provider", "e.g. openai:gpt-4.1"),
        (":gpt-4.1", "does not name a provider", "e.g. openai:gpt-4.1"),
        ("", "does not name a provider", "e.g. openai:gpt-4.1-mini"),
    ],
)
def test_model_ref_without_a_model_or_provider_gets_a_usable_fix(
    ref: str, reason: str, fix: str
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_model_ref(ref)
    assert reason in info.value.reason
    assert info.value.fix is not None and info.value.fix.endswith(fix)
    assert "openai:openai:" not in info.value.fix and "::" not in info.value.fix


def test_typo_in_provider_type_suggests_the_installed_type_never_a_package(
    tmp_path: Path,
) -> None:
    pytest.importorskip("polyroute_openai")
    from polyroute.plugins import default_registry

    path = write(tmp_path, "providers:\n  main: {type: openia}\n")
    with pytest.raises(ConfigError) as info:
        Router(load_config(path), registry=default_registry())
    assert info.value.field == "providers.main.type"
    assert info.value.fix == "did you mean 'openai'?"
    assert "pip install" not in str(info.value)


@pytest.mark.parametrize(
    ("ptype", "fix"),
    [
        ("ech", "did you mean 'echo'?"),
        ("antropic", "did you mean 'anthropic'? (pip install polyroute-anthropic)"),
        ("bedrock", "pip install polyroute-bedrock"),
    ],
)
def test_unknown_type_fix_offers_only_known_packages(ptype: str, fix: str) -> None:
    from polyroute.plugins.known import unknown_type_fix

    assert unknown_type_fix(ptype, ["echo"]) == fix


@pytest.mark.parametrize("ptype", ["zeta", "openai-free-credits", "x" * 200, "../evil"])
def test_unknown_type_fix_never_suggests_installing_an_unknown_name(ptype: str) -> None:
    from polyroute.plugins.known import unknown_type_fix

    fix = unknown_type_fix(ptype, ["echo", "openai"])
    assert "pip install" not in fix or "pip install polyroute-openai" in fix
    assert ptype not in fix


def test_malformed_profile_error_does_not_echo_its_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "profiles: {production: sk-live-0123456789abcdef}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, profile="production")
    assert "sk-live" not in str(info.value)
