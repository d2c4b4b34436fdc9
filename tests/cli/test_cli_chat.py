from __future__ import annotations

import json

import pytest

from polyroute.testing.standin import Fault

pytestmark = pytest.mark.standin

SECRET = "sk-chat-secret-value-0123456789abcdef"


@pytest.fixture
def config(write_config, primary, secondary):
    return write_config({
        "providers": {
            "a": {"type": "keyed_echo", "base_url": primary.url},
            "b": {"type": "echo", "base_url": secondary.url},
        },
        "agents": {
            "bot": {"model": "a/big", "fallbacks": ["b/big"], "temperature": 0.3},
            "solo": {"model": "a/small"},
        },
        "routes": {"qa": {"tiers": [["b/small"]]}},
        "retry": {"attempts": 1},
    })


ENV = {"KEYED_ECHO_API_KEY": SECRET}


def test_answer_and_footer(run, config, primary):
    result = run("chat", "hello there", "--agent", "bot", env=ENV)
    assert result.exit_code == 0, result.output
    assert result.stdout == "primary says: hello there\n"
    footer = result.stderr
    assert "↳ a/big · attempts: a/big ok" in footer
    assert "tokens 3 in / 4 out" in footer
    assert "$0.000011" in footer  # 3 * $1 + 4 * $2 per million
    assert primary.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    assert primary.requests[0].json()["temperature"] == 0.3


def test_cli_params_override_the_agents(run, config, primary):
    result = run("chat", "hi", "-a", "bot", "--temperature", "0.9", "--max-tokens", "5", env=ENV)
    assert result.exit_code == 0
    assert primary.requests[0].json()["temperature"] == 0.9


def test_fallback_after_a_500(run, config, primary, secondary):
    primary.push(Fault.status(500))
    result = run("chat", "hi", "--agent", "bot", env=ENV)
    assert result.exit_code == 0, result.output
    assert result.stdout == "secondary says: hi\n"
    assert "↳ b/big · attempts: a/big ServerError 500 → fell back; b/big ok" in result.stderr
    assert len(primary.requests) == 1


def test_stream(run, config, secondary):
    result = run("chat", "one two three", "--task", "qa", "--stream")
    assert result.exit_code == 0, result.output
    assert result.stdout == "secondary says: one two three \n"
    assert "↳ b/small · attempts: b/small ok" in result.stderr
    assert "tokens 3 in / 5 out" in result.stderr


def test_stream_falls_back_too(run, config, primary):
    primary.push(Fault.status(503))
    result = run("chat", "x", "-a", "bot", "--stream", env=ENV)
    assert result.exit_code == 0
    assert result.stdout.startswith("secondary says: x")
    assert "a/big OverloadedError 503 → fell back" in result.stderr or \
        "a/big ServerError 503 → fell back" in result.stderr


def test_every_candidate_fails_lists_reasons_and_exits_1(run, config, primary, secondary):
    primary.push(Fault.status(500, message=f"upstream echoed {SECRET}"))
    secondary.push(Fault.status(500))
    result = run("chat", "hi", "--agent", "bot", env=ENV)
    assert result.exit_code == 1
    assert result.stdout == ""
    err = result.stderr
    assert "error: every candidate for agent bot (model a/big) failed (2 tried)" in err
    assert "a/big failed: ServerError:" in err and "b/big failed: ServerError:" in err
    assert SECRET not in result.output
    assert "Traceback" not in result.output


def test_skipped_candidates_are_listed(run, config):
    result = run("chat", "hi", "--agent", "solo")  # no key in the env
    assert result.exit_code == 1
    assert "error: no usable candidate for agent solo (model a/small)" in result.stderr
    assert "a/small skipped: no API key (KEYED_ECHO_API_KEY is not set)" in result.stderr


def test_explicit_model_and_json(run, config, secondary):
    result = run("chat", "hey", "--model", "b:big", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["message"]["content"] == "secondary says: hey"
    assert data["provider"] == "b" and data["attempts"][0]["ok"] is True
    assert data["cost_usd"] > 0


def test_prompt_from_stdin_and_system(run, config, secondary):
    result = run("chat", "-", "-m", "b/small", "--system", "be brief", input="from stdin")
    assert result.exit_code == 0
    assert result.stdout == "secondary says: from stdin\n"


def test_unknown_agent_is_a_clear_error(run, config):
    result = run("chat", "hi", "--agent", "nobody")
    assert result.exit_code == 1
    assert "agent 'nobody' is not configured" in result.stderr


def test_stream_json_is_one_chunk_per_line(run, config, secondary):
    result = run("chat", "a b", "--task", "qa", "--stream", "--json")
    assert result.exit_code == 0
    chunks = [json.loads(line) for line in result.stdout.splitlines()]
    assert "".join(c.get("text", "") for c in chunks) == "secondary says: a b "
    assert chunks[-1]["provider"] == "b" and chunks[-1]["attempts"][0]["ok"] is True
