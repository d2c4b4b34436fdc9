from __future__ import annotations

import json


def test_lists_the_catalog(run):
    result = run("models")
    assert result.exit_code == 0
    line = next(x for x in result.stdout.splitlines() if "│ echo " in x and " big " in x)
    for cell in ("100,000", "8,000", "json_schema, streaming, tools, vision", "│ 1 ", "│ 2 ",
                 "catalog"):
        assert cell in line


def test_filters_by_capability(run):
    data = json.loads(run("models", "--capability", "vision", "--json").stdout)
    assert {(m["provider_type"], m["model"]) for m in data} == {
        ("echo", "big"), ("keyed_echo", "big")}
    data = json.loads(run("models", "--capability", "vision", "--capability", "reasoning",
                          "--json").stdout)
    assert data == []
    assert "no models match" in run("models", "--capability", "reasoning").stdout


def test_filters_by_provider_name_template_or_type(run, write_config):
    write_config({"providers": {"mine": {"type": "keyed_echo"}}})
    for name in ("mine", "keyed_echo"):
        data = json.loads(run("models", "--provider", name, "--json").stdout)
        assert {m["provider_type"] for m in data} == {"keyed_echo"}
    # a template's endpoint (Groq, vLLM...) does not serve its type's catalog: only what
    # the config says about it (and, with --live, what it lists)
    assert json.loads(run("models", "-p", "echo-local", "--json").stdout) == []
    write_config({"providers": {"mine": {"type": "keyed_echo"}},
                  "models": {"echo-local/tiny": {"context_window": 2048}}})
    data = json.loads(run("models", "-p", "echo-local", "--json").stdout)
    assert [(m["provider"], m["model"], m["context_window"]) for m in data] == [
        ("echo-local", "tiny", 2048)]


def test_unknown_provider_is_a_usage_error(run):
    result = run("models", "--provider", "nope")
    assert result.exit_code == 2
    assert "'nope' is no configured provider, template or provider type" in result.output


def test_config_overrides_are_listed(run, write_config):
    write_config({
        "providers": {"a": {"type": "echo"}},
        "models": {
            "a/big": {"context_window": 50_000, "prices": {"input": 0.5, "output": 1.5}},
            "a:custom": {"capabilities": ["tools"], "context_window": 4096},
        },
    })
    data = json.loads(run("models", "--json").stdout)
    rows = {(m["model"], m["source"]): m for m in data}
    assert rows[("big", "catalog")]["context_window"] == 100_000
    override = rows[("big", "config (a)")]
    assert override["context_window"] == 50_000
    assert override["prices"]["input"] == 0.5
    assert "vision" in override["capabilities"]  # the rest comes from the catalog
    assert rows[("custom", "config (a)")]["capabilities"] == ["tools"]
