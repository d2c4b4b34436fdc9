"""The dashboard's usage page (a list page) answers from one ``/api/admin/usage`` call —
at most 3 API calls per page is the issue-18 bound — and shows the ledger's figures,
read from rollups (the same as from the raw rows)."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the admin API needs polyroute[admin]")

from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from polyroute.admin import KeyRing, Registry, upgrade_to_head
from polyroute.admin.api import AdminSettings, create_app
from polyroute.ledger.store import CALL_COLUMNS, Ledger, connect_ledger, rollups_current


@pytest.fixture
def app_and_count(tmp_path: Path) -> Iterator[tuple[TestClient, list[str], str]]:
    ledger_path = tmp_path / "usage.db"
    cfg = tmp_path / "polyroute.yaml"
    cfg.write_text(f"providers: {{}}\nledger: {{path: {ledger_path}}}\n")
    rnd = random.Random(1)
    now = time.time()
    ledger = Ledger(ledger_path, retention_days=None)
    for i in range(2000):
        row: dict[str, Any] = {
            "id": f"c{i}", "ts": now - rnd.uniform(0, 5 * 86400), "agent": f"agent{i % 4}",
            "provider": ("openai", "anthropic")[i % 2], "model": ("m1", "m2")[i % 2],
            "input_tokens": 100, "output_tokens": 20, "cost_usd": 0.001 * (1 + i % 3),
            "latency_ms": rnd.uniform(50, 900), "status": "error" if i % 17 == 0 else "ok",
            "fallback": int(i % 5 == 0), "cache_hit": 0, "attempts": 1, "stream": 0}
        ledger.record(tuple(row.get(c) for c in CALL_COLUMNS))
    ledger.close()
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    upgrade_to_head(url)
    reg = Registry(url)
    reg.keyring = KeyRing([Fernet.generate_key().decode()])
    reg.create("user", {"name": "viewer-user", "role": "viewer"}, actor="test")
    token = reg.create_token("viewer-user", actor="test")[1]
    app = create_app(registry=reg, settings=AdminSettings(keyring=reg.keyring,
                                                          config_path=str(cfg)))
    api_calls: list[str] = []

    @app.middleware("http")
    async def count(request: Any, call_next: Any) -> Any:
        if request.url.path.startswith("/api/admin"):
            api_calls.append(request.url.path)
        return await call_next(request)

    with TestClient(app) as client:
        yield client, api_calls, token
    reg.close()


def test_the_usage_page_makes_at_most_three_api_calls(
        app_and_count: tuple[TestClient, list[str], str]) -> None:
    client, api_calls, token = app_and_count
    csrf = re.search(r'name="login_csrf" value="([^"]+)"', client.get("/ui/login").text)
    assert csrf is not None
    signed = client.post("/ui/login", data={"token": token, "login_csrf": csrf.group(1)},
                         follow_redirects=False)
    assert signed.status_code == 303
    for by in ("model", "agent", "day"):
        api_calls.clear()
        page = client.get(f"/ui/usage?since=30d&by={by}")
        assert page.status_code == 200
        assert len(api_calls) <= 3, api_calls
        assert api_calls == ["/api/admin/usage"]
        assert "2000" in page.text.replace(",", "")  # the total's requests are shown


def test_the_usage_api_reads_rollups_and_equals_the_raw_rows(
        app_and_count: tuple[TestClient, list[str], str], monkeypatch: pytest.MonkeyPatch,
        tmp_path: Path) -> None:
    client, _, token = app_and_count
    with connect_ledger(tmp_path / "usage.db", create=False) as conn:
        assert rollups_current(conn)
    auth = {"Authorization": f"Bearer {token}"}
    fast = client.get("/api/admin/usage?by=agent&since=30d", headers=auth).json()["report"]
    monkeypatch.setattr("polyroute.analytics.stats.rollups_current", lambda *a, **k: False)
    slow = client.get("/api/admin/usage?by=agent&since=30d", headers=auth).json()["report"]
    assert fast["total"]["requests"] == slow["total"]["requests"] == 2000
    assert [(g["key"], g["requests"], g["failed"], g["cost_usd"]) for g in fast["groups"]] == [
        (g["key"], g["requests"], g["failed"], g["cost_usd"]) for g in slow["groups"]]
