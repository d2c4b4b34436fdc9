"""No secret set in the environment (or written in a config) shows up in any output."""

from __future__ import annotations

import subprocess
import sys

import pytest

from polyroute.testing.standin import Fault

KEY = "sk-envsecret-0123456789abcdefghij"
LITERAL = "literal-config-secret-424242"


@pytest.fixture
def config(write_config, primary):
    return write_config({
        "providers": {
            "k": {"type": "keyed_echo", "base_url": primary.url},
            "lit": {"type": "keyed_echo", "base_url": primary.url, "api_key": LITERAL},
            "t": {"template": "echo-local"},
        },
        "routes": {"r": {"tiers": [["k/big"], ["lit/big"]]}},
        "agents": {"bot": {"route": "r"}},
        "default": "r",
        "retry": {"attempts": 1},
    })


COMMANDS = [
    ("check",),
    ("check", "--json"),
    ("plugins",),
    ("providers",),
    ("providers", "--json"),
    ("models",),
    ("route", "bot", "--explain"),
    ("route", "bot", "--json"),
    ("chat", "hi", "--agent", "bot"),
    ("chat", "hi", "--agent", "bot", "--json"),
    ("chat", "hi", "--agent", "bot", "--stream"),
]


@pytest.mark.standin
@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_no_secret_in_output(run, config, args):
    env = {"KEYED_ECHO_API_KEY": KEY, "ECHO_LOCAL_KEY": KEY + "x"}
    result = run(*args, env=env)
    assert result.exit_code == 0, result.output
    assert KEY not in result.output
    assert LITERAL not in result.output


@pytest.mark.standin
def test_provider_error_echoing_the_key_is_redacted(run, config, primary):
    # Both candidates fail with a body that quotes the key back.
    primary.push(Fault.status(401, message=f"bad key {KEY}"),
                 Fault.status(401, message=f"bad key {LITERAL}"))
    result = run("chat", "hi", "--agent", "bot", env={"KEYED_ECHO_API_KEY": KEY})
    assert result.exit_code == 1
    assert "AuthenticationError" in result.stderr
    assert KEY not in result.output and LITERAL not in result.output


def test_help_is_cheap():
    code = ("import sys, polyroute.cli; "
            "print(sorted(m for m in ('rich', 'polyroute.router', 'httpx', 'yaml') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_help_lists_every_command(run):
    result = run("--help")
    assert result.exit_code == 0
    for name in ("check", "plugins", "providers", "models", "route", "chat"):
        assert name in result.stdout
