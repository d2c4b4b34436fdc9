"""Secrets never leak: not into reprs, exceptions, attempts, logs or cassettes."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from polyroute.errors import NoRouteError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.secrets import redact
from polyroute.testing.standin import Reply, StandinRequest, StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints

KEY = "sk-polyroute-test-SECRET-0123456789abcdef"
CASSETTES = Path(__file__).parent.parent / "cassettes"


class LeakyResponder:
    """An upstream that echoes the key it was sent in its error body."""

    def answer(self, request: StandinRequest) -> Reply:
        auth = request.headers.get("authorization", "")
        return Reply.json({"error": f"Incorrect API key provided: {auth}"}, status=401)

    error = None  # type: ignore[assignment]
    stream_error_event = None  # type: ignore[assignment]


def test_key_never_appears_in_reprs_errors_attempts_or_logs(
    echo_registry: PluginRegistry, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("POLYROUTE_LEAK_KEY", KEY)
    caplog.set_level(logging.DEBUG, logger="polyroute")
    with StandinServer(LeakyResponder()) as server:  # type: ignore[arg-type]
        router = Router({
            "providers": {
                "a": {"type": "echo", "base_url": server.url, "api_key": "env:POLYROUTE_LEAK_KEY",
                      "headers": {"x-extra-key": KEY}},
                "b": {"type": "echo", "base_url": server.url, "api_key": KEY},
            },
            "agents": {"bot": {"model": "a:m", "fallbacks": ["b:m"]}},
        }, registry=echo_registry)
        with pytest.raises(NoRouteError) as info:
            router.chat(
                ChatRequest(messages=[Message.user("hi")], routing=RoutingHints(agent="bot"))
            )
        assert KEY in server.requests[0].headers["authorization"]  # it was really sent
        router.close()
    err = info.value
    texts = [
        str(err), repr(err), repr(router), repr(router.providers),
        repr(router.config),
        *(str(o.error) for o in err.outcomes), *(repr(o) for o in err.outcomes),
        *(r.getMessage() for r in caplog.records),
    ]
    assert err.outcomes and all("Incorrect API key" in str(o.error) for o in err.outcomes)
    for text in texts:
        assert KEY not in text
        assert "SECRET-0123456789" not in text


def test_redact_masks_known_key_shapes() -> None:
    text = "key sk-ant-api03-abcdefghijklmnop and AIzaSyA1234567890123456789012345678901 ok"
    clean = redact(text)
    assert "abcdefghijklmnop" not in clean and "AIzaSy" not in clean and clean.endswith(" ok")


SECRET_SHAPES = re.compile(
    r"(sk-[A-Za-z0-9_-]{16,}|sk-ant-[A-Za-z0-9_-]{10,}|AIza[0-9A-Za-z_-]{30,}"
    r"|Bearer [A-Za-z0-9._-]{20,}|AKIA[0-9A-Z]{16}|x-api-key:\s*\[?'?[A-Za-z0-9])"
)


def test_no_cassette_holds_a_secret() -> None:
    files = list(CASSETTES.rglob("*.yaml"))
    assert files, "cassettes/ should hold the recorded interactions"
    for path in files:
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if "REDACTED" in line:
                continue
            match = SECRET_SHAPES.search(line)
            assert match is None, f"{path}:{n} looks like a secret: {match.group(0)[:12]}..."


def test_secret_looking_extra_values_are_masked_in_reprs() -> None:
    from polyroute.providers.base import ProviderSettings

    settings = ProviderSettings(name="b", type="bedrock", extra={
        "region": "us-east-1", "aws_secret_access_key": "wJalrXUtnFEMI-K7MDENG",
        "session_token": "FwoGZXIvYXdzEXAMPLE", "access_key": "AKIAEXAMPLE123"})
    text = repr(settings)
    assert "us-east-1" in text
    for value in ("wJalrXUtnFEMI", "FwoGZXIvYXdz", "AKIAEXAMPLE123"):
        assert value not in text
