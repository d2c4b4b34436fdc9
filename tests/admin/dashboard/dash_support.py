"""What the dashboard's browser tests share (imported by conftest.py and the tests)."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from polyroute.admin import Registry
from polyroute.admin.api import AdminSettings
from polyroute.plugins import PluginRegistry
from polyroute.testing.standin import StandinServer

ASSETS = Path(__file__).parent / "assets"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    found = os.environ.get("POLYROUTE_CHROMIUM") or shutil.which("chromium")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    return found


@dataclass
class Server:
    url: str
    reg: Registry
    settings: AdminSettings
    plugins: PluginRegistry
    config_path: Path
    tokens: dict[str, str]
    standin: StandinServer
    shots: Path


def axe_critical(page: Any) -> list[dict[str, Any]]:
    """axe-core's critical violations on the page as it is now."""
    page.add_script_tag(path=str(ASSETS / "axe.min.js"))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [{"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]][:3]}
            for v in result["violations"] if v.get("impact") == "critical"]


def live_router(server: Server) -> Any:
    """A router over the registry that follows committed changes (``LiveRouter``), built
    before the operator's changes, as a running service's would be; a 1 ms interval: the
    first call after a change checks the audit head, so the test needs no sleep."""
    from polyroute.admin.live import LiveRouter
    from polyroute.config import load_config

    return LiveRouter(server.reg, base=load_config(server.config_path), interval=0.001,
                      plugins=server.plugins)


def call_route(live: Any, route: str, n: int = 1) -> list[tuple[str, str]]:
    """Calls through ``live`` (a ``LiveRouter``): it picks committed changes up itself."""
    from polyroute.types import ChatRequest, Message, RoutingHints

    out = []
    for _ in range(n):
        r = live.chat(ChatRequest(messages=[Message.user("hello")],
                                  routing=RoutingHints(task=route)))
        out.append((r.provider, r.model))
    return out
