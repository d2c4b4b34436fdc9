from __future__ import annotations

import json

CONFIG = {
    "providers": {
        "a": {"type": "echo", "base_url": "http://user:hunter2pass@127.0.0.1:9/v1"},
        "k": {"type": "keyed_echo"},
        "t": {"template": "echo-local"},
    },
}


def test_configured_providers_and_key_status(run, write_config):
    write_config(CONFIG)
    result = run("providers", env={"KEYED_ECHO_API_KEY": "sk-provider-secret-0123456789"})
    assert result.exit_code == 0, result.output
    out = result.stdout
    rows = {line.split()[1]: line for line in out.splitlines() if line.startswith("│ ")}
    assert "set (env KEYED_ECHO_API_KEY)" in rows["k"]
    assert "optional, unset (ECHO_API_KEY)" in rows["a"]
    assert "echo-local" in rows["t"] and "missing (ECHO_LOCAL_KEY)" in rows["t"]
    assert "sk-provider-secret-0123456789" not in result.output


def test_base_url_credentials_are_masked(run, write_config):
    write_config(CONFIG)
    result = run("providers")
    assert "hunter2pass" not in result.output
    assert "http://***@127.0.0.1:9/v1" in result.stdout


def test_missing_key_names_the_env_var(run, write_config):
    write_config(CONFIG)
    data = json.loads(run("providers", "--json").stdout)
    k = next(p for p in data["providers"] if p["name"] == "k")
    assert k["key"] == {"state": "missing", "source": "KEYED_ECHO_API_KEY"}
    assert k["ready"] is False


def test_lists_unconfigured_templates_and_types(run, write_config):
    write_config({"providers": {"a": {"type": "echo"}}})
    result = run("providers")
    assert "Templates not configured" in result.stdout and "echo-local" in result.stdout
    assert "Provider types not configured" in result.stdout
    types = json.loads(run("providers", "--json").stdout)["provider_types"]
    assert [t["name"] for t in types] == ["keyed_echo"]


def test_without_config_lists_what_is_available(run):
    result = run("providers")
    assert result.exit_code == 0
    assert "no providers configured (no config file found)" in result.stdout
    assert "keyed_echo" in result.stdout and "echo-local" in result.stdout


def test_bad_config_exits_2(run, write_config):
    write_config("providers:\n  a: {typ: echo}\n")
    result = run("providers")
    assert result.exit_code == 2
    assert "did you mean 'type'?" in result.stderr
