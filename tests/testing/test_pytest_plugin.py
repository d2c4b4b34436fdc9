"""The shipped pytest plugin, run the way a user's suite runs it (pytester)."""

from __future__ import annotations

import socket
from importlib.metadata import entry_points

import pytest

pytest_plugins = ["pytester"]

USER_TEST = '''
import os
from polyroute.router import Router
from polyroute.types import ChatRequest, Message

URL = os.environ["APP_OPENAI_URL"]

def ask():
    router = Router({"providers": {"o": {"type": "openai", "base_url": URL,
                                         "api_key": "sk-test-abcdefghijklmnop0123456789"}},
                     "default": "o:gpt-4.1-mini", "retry": {"attempts": 1}})
    try:
        return router.chat(ChatRequest(messages=[Message.user("Say hi")])).message.text
    finally:
        router.close()

def test_answer(polyroute_standin, polyroute_cassette, polyroute_record_mode):
    if polyroute_record_mode != "none":  # recording: a stand-in plays the provider
        polyroute_standin("openai", port=int(os.environ["APP_PORT"]))
    with polyroute_cassette():
        assert "Say hi" in ask()
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def user_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    port = free_port()
    monkeypatch.setenv("APP_PORT", str(port))
    monkeypatch.setenv("APP_OPENAI_URL", f"http://127.0.0.1:{port}/v1")
    pytester.makepyfile(test_app=USER_TEST)
    pytester.makeini("[pytest]\n")
    return pytester


# unrelated plugins of this venv, off to keep each subprocess quick
_QUIET = [f"-pno:{p}" for p in ("schemathesis", "langsmith", "codspeed", "benchmark", "syrupy",
                                 "anyio", "hypothesispytest", "socket", "cacheprovider")]


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """A subprocess, as a user runs it: the pytest11 entry point loads the plugin (and
    vcrpy's libyaml dumper gets a fresh interpreter: in-process reruns trip it)."""
    return pytester.runpytest_subprocess(*_QUIET, *args)


def run_here(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(*_QUIET, "-oasyncio_default_fixture_loop_scope=function",
                                        *args)


def test_the_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    names = {e.value for e in entry_points(group="pytest11")}
    assert "polyroute.testing.pytest_plugin" in names


def test_record_once_then_replay_offline_with_default_mode_none(
        user_suite: pytest.Pytester) -> None:
    # default mode none and no cassette: the call cannot reach the (absent) server
    first = run(user_suite)
    first.assert_outcomes(failed=1)
    # recorded against the stand-in, scrubbed
    recorded = run(user_suite, "--polyroute-record-mode=once")
    recorded.assert_outcomes(passed=1)
    cassette = user_suite.path / "cassettes" / "test_app" / "test_answer.yaml"
    text = cassette.read_text()
    assert "REDACTED" in text and "sk-test-abcdefghijklmnop" not in text
    # replayed: no server listens on that port now, the default mode is none
    replay = run(user_suite)
    replay.assert_outcomes(passed=1)


def test_a_new_cassette_holding_a_secret_fails_its_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_leak='''
import httpx

def test_leak(polyroute_cassette, polyroute_standin):
    from polyroute.testing.standin import Reply
    class Leaky:
        def answer(self, request):
            return Reply.json({"echo": "key is sk-live-ABCDEFGHIJKLMNOPQRSTUV"})
        def error(self, request, status, message):
            return Reply.json({}, status=status)
        def stream_error_event(self, request, message):
            return b""
    server = polyroute_standin(Leaky())
    # scrubbing masks keys polyroute knows and sk- shapes: disable it to plant a leak
    with polyroute_cassette(before_record_response=None):
        httpx.post(server.url + "/x", json={})
''')
    result = run(pytester, "--polyroute-record-mode=all")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*secret-shaped values in new cassettes*test_leak.yaml:*"])
    assert "ABCDEFGHIJKLMNOPQRSTUV" not in result.stdout.str()


def test_a_bad_record_mode_is_a_usage_error(user_suite: pytest.Pytester) -> None:
    user_suite.makeini("[pytest]\npolyroute_record_mode = sometimes\n")
    result = run_here(user_suite)
    assert result.ret != 0
    assert "polyroute_record_mode = 'sometimes'" in result.stdout.str() + result.stderr.str()


def test_an_unknown_standin_name_says_what_to_install(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x='''
def test_x(polyroute_standin):
    polyroute_standin("nosuchprovider")
''')
    result = run_here(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*polyroute-nosuchprovider plugin*"])
