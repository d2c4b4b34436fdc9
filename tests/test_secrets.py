"""Secrets never leak: not into reprs, exceptions, attempts, logs or cassettes."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from polyroute.errors import NoRouteError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.secrets import Secret, redact
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


def _cassette_texts(path: Path) -> list[tuple[str, str]]:
    """(where, text) for every recorded string: the raw file (line by line), and each
    request/response header and body decoded, binary ones too (base64 in the file)."""
    import yaml

    out = [(f"{path}:{n}", line) for n, line in enumerate(path.read_text().splitlines(), 1)]
    doc = yaml.safe_load(path.read_text()) or {}
    for i, item in enumerate(doc.get("interactions", [])):
        for side in ("request", "response"):
            part = item.get(side) or {}
            for name, values in (part.get("headers") or {}).items():
                for value in values if isinstance(values, list) else [values]:
                    out.append((f"{path} #{i} {side} header {name}", f"{name}: {value}"))
            body = part.get("body")
            body = body.get("string") if isinstance(body, dict) else body
            if isinstance(body, bytes):
                body = body.decode("latin-1")  # binary event streams: scan the bytes too
            if isinstance(body, str):
                out.append((f"{path} #{i} {side} body", body))
    return out


def test_no_cassette_holds_a_secret() -> None:
    files = list(CASSETTES.rglob("*.yaml"))
    assert files, "cassettes/ should hold the recorded interactions"
    for path in files:
        for where, text in _cassette_texts(path):
            if "REDACTED" in text:
                continue
            match = SECRET_SHAPES.search(text)
            assert match is None, f"{where} looks like a secret: {match.group(0)[:12]}..."


def test_secret_looking_extra_values_are_masked_in_reprs() -> None:
    from polyroute.providers.base import ProviderSettings

    settings = ProviderSettings(name="b", type="bedrock", extra={
        "region": "us-east-1", "aws_secret_access_key": "wJalrXUtnFEMI-K7MDENG",
        "session_token": "FwoGZXIvYXdzEXAMPLE", "access_key": "AKIAEXAMPLE123"})
    text = repr(settings)
    assert "us-east-1" in text
    for value in ("wJalrXUtnFEMI", "FwoGZXIvYXdz", "AKIAEXAMPLE123"):
        assert value not in text


# --- request/response reprs, recorded cassettes, YAML errors (issue 9 item 11) --------

PLAIN_KEY = "plain-Secret-value-0042xyz"  # no well-known key shape: only `reveal` knows it


def test_request_and_response_reprs_mask_the_key() -> None:
    import traceback

    from polyroute.providers.base import HttpResponse, ProviderSettings
    from polyroute_anthropic import AnthropicProvider
    from polyroute_openai import OpenAIProvider

    request = ChatRequest(messages=[Message.user("hi")])
    sent = [
        OpenAIProvider(ProviderSettings(name="o", type="openai", api_key=KEY))
        .build_request(request, "gpt-4.1", stream=False),
        AnthropicProvider(ProviderSettings(name="a", type="anthropic", api_key=PLAIN_KEY))
        .build_request(request, "claude-sonnet-4-5", stream=True),
    ]
    echoed = HttpResponse(401, {"set-cookie": f"s={PLAIN_KEY}"},
                          f'{{"error": "Incorrect API key provided: {KEY}"}}'.encode())

    def fails(http: object, response: object) -> None:
        raise RuntimeError("boom")

    texts = [repr(r) for r in [*sent, echoed]]
    for http in sent:  # a traceback with locals (pytest --showlocals, error reporters)
        try:
            fails(http, echoed)
        except RuntimeError as exc:
            texts.append("".join(traceback.TracebackException.from_exception(
                exc, capture_locals=True).format()))
    assert "Authorization" in texts[0] or "authorization" in texts[0]
    for text in texts:
        assert KEY not in text and PLAIN_KEY not in text, text


def test_a_recorded_cassette_scrubs_a_key_echoed_in_the_response_body(tmp_path: Path) -> None:
    import vcr

    from polyroute.testing.cassettes import vcr_config

    class EchoKey(LeakyResponder):
        def answer(self, request: StandinRequest) -> Reply:
            key = request.headers.get("authorization", "").removeprefix("Bearer ")
            return Reply.json({"error": f"Incorrect API key provided: {key}"}, status=401,
                              headers={"x-echo": key})

    path = tmp_path / "leak.yaml"
    with StandinServer(EchoKey()) as server:  # type: ignore[arg-type]
        router = Router({
            "providers": {"a": {"type": "openai", "base_url": server.url, "api_key": PLAIN_KEY}},
            "agents": {"bot": {"model": "a:m"}},
        })
        with vcr.VCR(**vcr_config()).use_cassette(str(path), record_mode="all"), \
                pytest.raises(NoRouteError):
            router.chat(ChatRequest(messages=[Message.user("hi")],
                                    routing=RoutingHints(agent="bot")))
        router.close()
        assert PLAIN_KEY in server.requests[0].headers["authorization"]  # it was really sent
    text = path.read_text()
    assert "Incorrect API key provided" in text  # the body was recorded...
    assert PLAIN_KEY not in text  # ...without the key, in the body and the headers


def test_an_undefined_yaml_alias_error_does_not_print_the_value(tmp_path: Path) -> None:
    from polyroute.config.loader import load_config
    from polyroute.errors import ConfigError

    path = tmp_path / "polyroute.yaml"
    path.write_text(f"providers:\n  openai: {{type: openai, api_key: *{KEY}}}\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert KEY not in str(info.value) and "SECRET-0123456789" not in str(info.value)
    assert "line 2" in str(info.value) and "quote the value" in str(info.value)


def test_a_plugin_bug_quoting_the_key_is_reported_masked() -> None:
    from polyroute.routing.call import as_provider_error
    from polyroute.routing.plan import Deployment

    err = as_provider_error(ValueError(f"could not parse, header was Bearer {KEY}"),
                            Deployment("a", "m"))
    assert "could not parse" in str(err) and "ValueError" in str(err)
    assert KEY not in str(err) and "SECRET-0123456789" not in str(err)


def test_a_secret_inside_a_longer_one_never_breaks_the_longer_ones_redaction() -> None:
    """An access key id remembered on its own sits inside a remembered signed header;
    whatever the set's order, the whole header (signature included) is scrubbed."""
    from polyroute.secrets import redact, remember

    akid = "AKIDINNER0123456789"
    header = f"AWS4-HMAC-SHA256 Credential={akid}/x, Signature=5f1e0c9a7b3d2e4f6a8b0c1d2e3f4a5b"
    remember(akid)
    remember(header)
    clean = redact(f"sent {header}")
    assert "5f1e0c9a7b3d2e4f6a8b0c1d2e3f4a5b" not in clean and akid not in clean


def test_a_revealed_secret_is_scrubbed_within_its_test() -> None:
    Secret("rate_limit_exceeded").reveal()  # a value hypothesis may draw from our code
    assert redact("code rate_limit_exceeded") == "code **********"


def test_and_forgotten_after_it_so_later_tests_see_plain_text() -> None:
    # runs after the test above (file order): the root conftest restored the set
    assert redact("code rate_limit_exceeded") == "code rate_limit_exceeded"
