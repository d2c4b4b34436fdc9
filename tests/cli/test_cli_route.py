from __future__ import annotations

import json

import pytest

CONFIG = {
    "providers": {
        "a": {"type": "echo"},
        "k": {"type": "keyed_echo", "api_key": "env:KEYED_ECHO_API_KEY"},
    },
    "routes": {"code": {"tiers": [["k/big", "a/small"], ["a/big"]], "max_tokens": 512}},
    "agents": {
        "coder": {"route": "code", "temperature": 0.2},
        "cheap": {"model": "a/small", "fallbacks": ["a/big"]},
    },
}


def _rows(out: str) -> dict[str, list[str]]:
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 4 and "/" in cells[2]:
            rows[cells[2]] = cells
    return rows


def test_plain_lists_usable_candidates_in_order(run, write_config):
    write_config(CONFIG)
    result = run("route", "coder", env={"KEYED_ECHO_API_KEY": "x" * 20})
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["k/big", "a/small", "a/big"]


def test_explain_shows_missing_key_reason(run, write_config):
    write_config(CONFIG)
    result = run("route", "coder", "--explain")
    assert result.exit_code == 0
    out = result.stdout
    assert "source:   agent coder (route code)" in out
    assert "strategy: priority" in out
    rows = _rows(out)
    assert rows["k/big"] == ["1", "-", "k/big", "no API key (KEYED_ECHO_API_KEY is not set)"]
    assert rows["a/small"] == ["1", "1", "a/small", "ok"]
    assert rows["a/big"] == ["2", "2", "a/big", "ok"]
    assert "params:   temperature=0.2, max_tokens=512" in out


def test_explain_shows_missing_capability(run, write_config):
    write_config(CONFIG)
    result = run("route", "coder", "--explain", "--vision",
                 env={"KEYED_ECHO_API_KEY": "x" * 20})
    assert result.exit_code == 0
    assert "requires: vision" in result.stdout
    rows = _rows(result.stdout)
    assert rows["a/small"][3] == "lacks capability vision"
    assert rows["k/big"][:2] == ["1", "1"] and rows["a/big"][:2] == ["2", "2"]


def test_no_usable_candidate_exits_1(run, write_config):
    write_config(CONFIG)
    result = run("route", "cheap", "--capability", "reasoning", "--explain")
    assert result.exit_code == 1
    assert _rows(result.stdout)["a/small"][3] == "lacks capability reasoning"
    assert _rows(result.stdout)["a/big"][3] == "lacks capability reasoning"
    result = run("route", "--task", "code", "--tools", "--capability", "reasoning")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "error: no usable candidate for task code" in result.stderr
    assert "k/big skipped: no API key (KEYED_ECHO_API_KEY is not set)" in result.stderr
    assert "a/small skipped: lacks capability reasoning, tools" in result.stderr
    assert "a/big skipped: lacks capability reasoning" in result.stderr


def test_model_with_fallbacks_and_json(run, write_config):
    write_config(CONFIG)
    result = run("route", "--model", "a:big", "--fallback", "k/small", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["source"] == "model a:big" and data["strategy"] == "priority"
    assert [(c["provider"], c["model"], c["status"]) for c in data["candidates"]] == [
        ("a", "big", "ok"), ("k", "small", "skipped")]


def test_implicit_provider_without_config(run):
    result = run("route", "--model", "echo:anything")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["echo/anything"]


def test_unknown_agent_exits_1_with_a_message(run, write_config):
    write_config(CONFIG)
    result = run("route", "ghost")
    assert result.exit_code == 1
    assert "agent 'ghost' is not configured (agents: cheap, coder)" in result.stderr
    assert "Traceback" not in result.output


def test_no_default_exits_1(run, write_config):
    write_config(CONFIG)
    result = run("route")
    assert result.exit_code == 1
    assert "the config has no 'default'" in result.stderr


def test_agent_and_task_together_is_a_usage_error(run, write_config):
    write_config(CONFIG)
    result = run("route", "coder", "--task", "code")
    assert result.exit_code == 2
    assert "not both" in result.output


def test_unexpected_error_is_one_line_unless_debug(run, write_config, monkeypatch):
    from polyroute.router import Router

    def boom(self, request):
        raise RuntimeError("boom")

    monkeypatch.setattr(Router, "plan", boom)
    write_config(CONFIG)
    result = run("route", "coder")
    assert result.exit_code == 1
    assert "internal error: RuntimeError: boom" in result.stderr
    assert "Traceback" not in result.output
    with pytest.raises(RuntimeError, match="boom"):
        run("--debug", "route", "coder")


def test_model_without_provider_is_a_usage_error(run):
    result = run("route", "--model", "gpt-4.1")
    assert result.exit_code == 2
    assert "model 'gpt-4.1' does not name a provider" in result.output
    assert "openai:gpt-4.1" in result.output
