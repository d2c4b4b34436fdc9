"""Browser-test fixtures: the admin app (API + dashboard) served by uvicorn in a thread on
a free loopback port, over a temp SQLite registry, with a config file whose ledger the
usage page reads, an OpenAI stand-in to add as a provider, and Debian's chromium driven
by Playwright (never a downloaded browser). Without chromium the tests skip, saying why.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the dashboard tests need polyroute[admin]")
pytest.importorskip("jinja2", reason="the dashboard tests need polyroute[admin]")
pytest.importorskip("playwright.sync_api",
                    reason="the dashboard tests need playwright (the dev extra)")

sys.path.insert(0, str(Path(__file__).parent))

import uvicorn
from cryptography.fernet import Fernet
from dash_support import CHROMIUM_ARGS, Server, call_route, chromium_path, live_router
from playwright.sync_api import sync_playwright

from polyroute.admin import KeyRing, Registry, sync_system_entries, upgrade_to_head
from polyroute.admin.api import AdminSettings, create_app
from polyroute.plugins import PluginRegistry
from polyroute.testing.standin import StandinServer
from polyroute_openai import plugin as openai_plugin
from polyroute_openai.standin import OpenAIResponder

ROOT = Path(__file__).resolve().parents[3]
SHOTS = ROOT / "docs" / "img" / "dashboard"


class _Uvicorn(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # a thread cannot take signals
        pass


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("dash")
    url = f"sqlite:///{tmp / 'registry.db'}"
    upgrade_to_head(url)
    reg = Registry(url)
    reg.keyring = KeyRing([Fernet.generate_key().decode()])
    plugins = PluginRegistry.create(load_entrypoints=False, plugins=[openai_plugin])
    sync_system_entries(reg, None, plugins=plugins)
    tokens = {}
    for role in ("admin", "operator", "viewer"):
        reg.create("user", {"name": f"{role}-user", "role": role}, actor="test")
        tokens[role] = reg.create_token(f"{role}-user", actor="test")[1]
    config_path = tmp / "polyroute.yaml"
    # a shared state store: the server's Health page sees the test routers' calls
    config_path.write_text(f"ledger:\n  path: {tmp / 'usage.db'}\n  sync: true\n"
                           f"state:\n  backend: sqlite\n  path: {tmp / 'state.db'}\n")
    settings = AdminSettings(plugins=plugins, keyring=reg.keyring, config_path=str(config_path),
                             allow_private_endpoints=True, tests_per_window=100)
    app = create_app(registry=reg, settings=settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = _Uvicorn(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    shots = SHOTS if os.environ.get("UPDATE_SCREENSHOTS") else tmp / "shots"
    shots.mkdir(parents=True, exist_ok=True)
    with StandinServer(OpenAIResponder()) as standin:
        yield Server(f"http://127.0.0.1:{port}", reg, settings, plugins, config_path, tokens,
                     standin, shots)
    srv.should_exit = True
    thread.join(timeout=10)
    sock.close()
    reg.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    # module scope, not session: while Playwright's sync API is open, the main thread has a
    # running event loop, and every later test calling asyncio.run() would fail
    path = chromium_path()
    if path is None:
        pytest.skip("no chromium: `make browser` installs Debian's package (apt-get install "
                    "chromium); set POLYROUTE_CHROMIUM to use another build")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def login(server: Server, browser: Any) -> Iterator[Any]:
    """``login(role)``: a fresh page signed in through the sign-in form."""
    contexts: list[Any] = []

    def sign_in(role: str) -> Any:
        ctx = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{server.url}/ui/login")
        page.get_by_label("API token").fill(server.tokens[role])
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{server.url}/ui/")
        return page

    yield sign_in
    for ctx in contexts:
        ctx.close()


@pytest.fixture(scope="module")
def seeded(server: Server) -> Server:
    """A provider with two priced models, a route, a budget and a few calls in the ledger,
    made through the API as an admin would (for the viewer and accessibility tests)."""
    import httpx

    h = {"Authorization": f"Bearer {server.tokens['admin']}"}
    with httpx.Client(base_url=f"{server.url}/api/admin", headers=h, timeout=30) as api:
        r = api.post("/provider-templates/vllm/apply", json={
            "identifier": "standin", "name": "Stand-in (OpenAI-compatible)",
            "api_endpoint": f"{server.standin.url}/v1", "api_key": "sk-seed-secret-9876",
            "include_default_models": False})
        assert r.status_code == 201, r.text
        for name, caps, price, default in (
            ("gpt-4o-mini", ["tools", "streaming"], {"input": 0.15, "output": 0.6}, True),
            ("gpt-4o", ["tools", "vision", "streaming"], {"input": 2.5, "output": 10.0}, False),
        ):
            r = api.post("/providers/standin/models", json={
                "name": name, "context_length": 128000, "capabilities": caps,
                "pricing_info": price, "is_default": default})
            assert r.status_code == 201, r.text
        assert api.post("/providers/standin/test").json()["ok"]
        r = api.post("/routes", json={"name": "support", "strategy": "priority",
                                      "tiers": [["standin:gpt-4o-mini"], ["standin:gpt-4o"]]})
        assert r.status_code == 201, r.text
        for agent in ({"name": "support-bot", "route": "support", "params": {"temperature": 0.3}},
                      {"name": "summariser", "model": "standin:gpt-4o-mini",
                       "params": {"max_tokens": 400}}):
            assert api.post("/agents", json=agent).status_code == 201
        # small, so the burn-down's forecast meets it; "warn": it never blocks a test call
        r = api.post("/budgets", json={"name": "monthly", "usd": 0.6, "scope": "global",
                                       "per": "month", "on_exceed": "warn"})
        assert r.status_code == 201, r.text
    live = live_router(server)
    call_route(live, "support", n=3)
    live.close()
    _history(server)
    return server


def _history(server: Server) -> None:
    """A week of earlier calls, written straight into the ledger (deterministic figures) so
    the usage charts have days to draw; the calls of the last hour come from a real router."""
    import uuid

    from polyroute.config import load_config
    from polyroute.ledger.store import connect_ledger

    path = load_config(server.config_path).ledger.path  # type: ignore[union-attr]
    now = time.time()
    rows = []
    for day in range(1, 8):
        for i in range(4 + day % 3):
            model, price = (("gpt-4o", 10.0) if i % 3 == 0 else ("gpt-4o-mini", 0.6))
            ok = (day + i) % 7 != 0
            rows.append({
                "id": uuid.uuid4().hex, "ts": now - day * 86400 + i * 600, "route": "support",
                "task": "support", "provider": "standin", "model": model,
                "input_tokens": 900 + 40 * i, "output_tokens": 300 + 25 * day,
                "cost_usd": round((900 + 40 * i + 300 + 25 * day) * price / 1e6, 8) if ok else 0,
                "price_known": 1, "latency_ms": 180.0 + 35 * i + 12 * day, "ttft_ms": None,
                "status": "ok" if ok else "error", "error": None if ok else "RateLimitError",
                "attempts": 1 if ok else 2, "fallback": 0 if ok else 1, "cache_hit": 0,
                "stream": 0, "tags": "{}"})
    conn = connect_ledger(path)
    try:
        cols = sorted(rows[0])
        conn.executemany(f"INSERT INTO calls ({', '.join(cols)}) VALUES "
                         f"({', '.join('?' for _ in cols)})",
                         [tuple(r[c] for c in cols) for r in rows])
        conn.commit()
    finally:
        conn.close()
