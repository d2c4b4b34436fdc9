"""The alert webhook sends through the router's ``Transport`` (the one place the core does
HTTP), off the calling thread, and a failing webhook never shows its URL (a secret)."""

from __future__ import annotations

import json
import logging
import threading

import httpx
import pytest

from polyroute.analytics.alerts import Alert, WebhookSink, alerts_for
from polyroute.router import Router
from polyroute.transport import Transport

HOOK = "https://hooks.example/services/T000/B000/s3cr3t-token"


def _router(handler: httpx.MockTransport, monkeypatch: pytest.MonkeyPatch) -> Router:
    monkeypatch.setenv("POLYROUTE_TEST_HOOK", HOOK)
    transport = Transport(client=httpx.Client(transport=handler))
    return Router({"alerts": {"webhook": "env:POLYROUTE_TEST_HOOK"}}, transport=transport)


def test_the_webhook_posts_through_the_routers_transport(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, str, dict[str, object], str]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, str(request.url), json.loads(request.content),
                     threading.current_thread().name))
        return httpx.Response(204)

    with _router(httpx.MockTransport(handle), monkeypatch) as router:
        bus = alerts_for(router)
        assert bus is router.context.alerts  # one bus: the guards' and the caller's
        bus.emit(Alert.circuit_open("openai/gpt-4.1", reason="5 failures in 30 s"))
        (sink,) = [s for s in bus.sinks if isinstance(s, WebhookSink)]
        sink.flush()
    ((method, url, body, thread),) = seen
    assert (method, url, thread) == ("POST", HOOK, "polyroute-alert-webhook")
    assert body["kind"] == "circuit_open" and body["source"] == "polyroute"
    assert sink.sent == 1


def test_a_failing_webhook_is_logged_without_its_url(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with _router(httpx.MockTransport(lambda r: httpx.Response(500)), monkeypatch) as router:
        bus = alerts_for(router)
        bus.emit(Alert("budget_exceeded", "global", "budget global reached"))
        (sink,) = [s for s in bus.sinks if isinstance(s, WebhookSink)]
        sink.flush()
    assert sink.sent == 0
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("polyroute"))
    assert "alert webhook failed: RuntimeError" in ours
    assert "s3cr3t" not in ours and "hooks.example" not in ours
