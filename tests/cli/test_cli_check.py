from __future__ import annotations

import json

BASE = {
    "providers": {
        "a": {"type": "echo", "base_url": "http://127.0.0.1:9"},
        "k": {"type": "keyed_echo", "api_key": "env:KEYED_ECHO_API_KEY"},
    },
    "routes": {"code": {"tiers": [["a/big", "k/big"], ["a/small"]], "temperature": 0.1}},
    "agents": {
        "coder": {"route": "code", "temperature": 0.2},
        "cheap": {"model": "a/small", "fallbacks": ["k/small"]},
    },
    "default": "code",
}


def test_valid_config_prints_summary_and_exits_0(run, write_config):
    path = write_config(BASE)
    result = run("check", path)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith(f"ok {path}")
    assert "keyed_echo" in out and "missing (KEYED_ECHO_API_KEY)" in out
    assert "optional, unset (ECHO_API_KEY)" in out
    assert "a/big, k/big → a/small" in out
    assert "route code" in out and "model a/small" in out and "temperature=0.2" in out
    assert "default: code" in out
    assert "warning: providers.k: no API key (KEYED_ECHO_API_KEY is not set)" in out


def test_key_set_shows_env_name_never_value(run, write_config):
    secret = "sk-check-0123456789abcdefSECRET"
    result = run("check", write_config(BASE), env={"KEYED_ECHO_API_KEY": secret})
    assert result.exit_code == 0
    assert "set (env KEYED_ECHO_API_KEY)" in result.stdout
    assert secret not in result.output
    assert "warning" not in result.stdout


def test_typo_names_file_field_and_fix(run, write_config):
    path = write_config(
        "providers:\n  a:\n    type: echo\n    api_kye: env:ECHO_API_KEY\n"
    )
    result = run("check", path)
    assert result.exit_code == 2
    err = result.stderr
    assert "error: invalid config" in err
    assert f"file:    {path}" in err
    assert "field:   providers.a.api_kye" in err
    assert "did you mean 'api_key'?" in err
    assert "Traceback" not in result.output


def test_unknown_provider_reference_exits_2(run, write_config):
    data = {**BASE, "agents": {"x": {"model": "nope/big"}}}
    result = run("check", write_config(data))
    assert result.exit_code == 2
    assert "field:   agents.x.model" in result.stderr
    assert "names provider 'nope'" in result.stderr
    assert "add providers.nope" in result.stderr


def test_unknown_provider_type_exits_2(run, write_config):
    result = run("check", write_config({"providers": {"z": {"type": "zeta"}}}))
    assert result.exit_code == 2
    assert "field:   providers.z.type" in result.stderr
    assert "unknown provider type 'zeta'" in result.stderr
    # never an install line for a name no known plugin has (typosquatting)
    assert "pip install" not in result.stderr
    assert "fix the type name" in result.stderr


def test_typo_in_provider_type_says_did_you_mean_first(run, write_config):
    result = run("check", write_config({"providers": {"z": {"type": "ehco"}}}))
    assert result.exit_code == 2
    assert "fix:     did you mean 'echo'?" in result.stderr
    assert "pip install" not in result.stderr


def test_models_override_for_unknown_provider_exits_2(run, write_config):
    data = {**BASE, "models": {"ghost/big": {"context_window": 10}}}
    result = run("check", write_config(data))
    assert result.exit_code == 2
    assert "field:   models.ghost/big" in result.stderr
    assert "names provider 'ghost'" in result.stderr


def test_model_missing_from_catalog_is_a_warning(run, write_config):
    data = {**BASE, "agents": {"x": {"model": "a/bigg"}}}
    result = run("check", write_config(data))
    assert result.exit_code == 0
    assert "warning: agents.x.model: model 'bigg' is not in the echo catalog" in result.stdout
    assert "did you mean 'big'?" in result.stdout


def test_literal_key_in_config_is_a_warning_and_not_printed(run, write_config):
    data = {"providers": {"k": {"type": "keyed_echo", "api_key": "literal-key-value-98765"}}}
    result = run("check", write_config(data))
    assert result.exit_code == 0
    assert "set (in config)" in result.stdout
    assert "the key is written in the config file" in result.stdout
    assert "literal-key-value-98765" not in result.output


def test_invalid_yaml_exits_2(run, write_config):
    result = run("check", write_config("providers:\n  a: {type: echo\n"))
    assert result.exit_code == 2
    assert "not valid YAML" in result.stderr


def test_missing_file_exits_2(run):
    result = run("check", "nowhere.yaml")
    assert result.exit_code == 2
    assert "file:    nowhere.yaml" in result.stderr
    assert "config file not found" in result.stderr


def test_no_config_found_exits_2(run):
    result = run("check")
    assert result.exit_code == 2
    assert "no config file found" in result.stderr
    assert "--config" in result.stderr


def test_finds_polyroute_yaml_in_cwd(run, write_config):
    write_config(BASE)
    result = run("check")
    assert result.exit_code == 0
    assert result.stdout.startswith("ok polyroute.yaml")


def test_finds_polyroute_toml_in_cwd(run, write_config):
    write_config('[providers.a]\ntype = "echo"\n', name="polyroute.toml")
    result = run("check")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("ok polyroute.toml")


def test_config_from_env_and_option_order(run, write_config, tmp_path):
    env_path = write_config(BASE, name="from-env.yaml")
    opt_path = write_config({"providers": {"only": {"type": "echo"}}}, name="from-opt.yaml")
    result = run("check", env={"POLYROUTE_CONFIG": env_path})
    assert result.stdout.startswith(f"ok {env_path}")
    result = run("-c", opt_path, "check", env={"POLYROUTE_CONFIG": env_path})
    assert result.stdout.startswith(f"ok {opt_path}")
    result = run("check", "-c", opt_path, env={"POLYROUTE_CONFIG": env_path})
    assert result.stdout.startswith(f"ok {opt_path}")


def test_profile_overlay(run, write_config):
    data = {**BASE, "profiles": {"prod": {"agents": {"coder": {"temperature": 0.7}}}}}
    path = write_config(data)
    result = run("--profile", "prod", "check", path)
    assert result.exit_code == 0
    assert "(profile prod)" in result.stdout and "temperature=0.7" in result.stdout
    result = run("check", path, "--profile", "staging")
    assert result.exit_code == 2
    assert "profile 'staging' is not defined (profiles: prod)" in result.stderr


def test_json_success_and_failure(run, write_config):
    result = run("check", write_config(BASE), "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["ok"] is True
    assert {p["name"]: p["key"]["state"] for p in data["providers"]} == {
        "a": "optional", "k": "missing"}
    assert data["routes"]["code"]["tiers"] == [["a/big", "k/big"], ["a/small"]]
    result = run("check", write_config("providers:\n  a: {type: echo, api_kye: x}\n"), "--json")
    assert result.exit_code == 2
    error = json.loads(result.stdout)["errors"][0]
    assert error["field"] == "providers.a.api_kye"
    assert error["fix"] == "did you mean 'api_key'?"


def test_no_catalog_warning_for_template_providers(run, write_config):
    data = {"providers": {"t": {"template": "echo-local"}},
            "agents": {"x": {"model": "t/whatever"}}}
    result = run("check", write_config(data))
    assert result.exit_code == 0
    assert "not in the echo catalog" not in result.stdout


BROKEN = {
    "providers": {"a": {"type": "echo"}, "z": {"type": "zeta"}, "t": {"template": "nope"}},
    "routes": {"r": {"strategy": "lowest_cots", "tiers": [["a/big", "ghost/big"]]}},
    "agents": {"x": {"route": "nowhere"}, "y": {"model": "a:"}},
}
BROKEN_FIELDS = [
    "providers.t.template", "providers.z.type", "agents.x.route", "routes.r.strategy",
    "agents.y.model", "routes.r.tiers[0][1]",
]


def test_check_reports_every_problem_not_just_the_first(run, write_config):
    path = write_config(BROKEN)
    result = run("check", path)
    assert result.exit_code == 2
    err = result.stderr
    assert "error: invalid config (6 problems)" in err
    assert err.count(f"file:    {path}") == 1
    assert [line.split("field:", 1)[1].strip() for line in err.splitlines()
            if "field:" in line] == BROKEN_FIELDS
    assert err.count("fix:") == 6
    assert "did you mean 'lowest_cost'?" in err
    assert "add the model after the ':'" in err


def test_check_json_lists_every_problem(run, write_config):
    path = write_config(BROKEN)
    result = run("check", path, "--json")
    assert result.exit_code == 2
    errors = json.loads(result.stdout)["errors"]
    assert [e["field"] for e in errors] == BROKEN_FIELDS
    assert all(e["file"] == path and e["fix"] and e["problem"] for e in errors)


def test_check_lists_every_schema_problem(run, write_config):
    path = write_config("retry: {attempts: many}\nproviders:\n  a: {type: echo, api_kye: x}\n")
    result = run("check", path, "--json")
    assert result.exit_code == 2
    errors = json.loads(result.stdout)["errors"]
    assert sorted(e["field"] for e in errors) == ["providers.a.api_kye", "retry.attempts"]
    text = run("check", path).stderr
    assert "(2 problems)" in text and "did you mean 'api_key'?" in text and "use a number" in text


def test_check_malformed_profile_is_a_config_error(run, write_config):
    path = write_config({**BASE, "profiles": {"production": 5}})
    result = run("check", path, env={"POLYROUTE_PROFILE": "production"})
    assert result.exit_code == 2
    assert "internal error" not in result.output
    assert "field:   profiles.production" in result.stderr
