"""The admin server's settings (``create_app(..., settings=AdminSettings(...))``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import Request

from polyroute.admin.secrets import KeyRing
from polyroute.admin.ssrf import Resolver, allow_private_from_env
from polyroute.admin.testing_conn import TestLimiter
from polyroute.plugins import PluginRegistry

__all__ = ["AdminSettings", "settings_of"]


@dataclass
class AdminSettings:
    allow_private_endpoints: bool = field(default_factory=allow_private_from_env)
    """Let provider endpoints be loopback/private (local vLLM, Ollama); metadata stays refused."""
    config_path: str | None = None
    """The config file: its providers show as read-only system entries, its ledger feeds
    ``/usage`` and its deployments ``/health``."""
    resolver: Resolver | None = None
    """Host name resolution for the SSRF guard (default: the system's)."""
    plugins: PluginRegistry | None = None
    """Provider plugins for tests and refreshes (default: every installed one)."""
    keyring: KeyRing | None = None
    require_approval: bool = False
    """Two-person approval: critical changes must be proposed and approved by another
    admin (``/api/admin/approvals``); made directly they answer 409 approval_required."""
    tests_per_window: int = 6
    test_window_s: float = 60.0
    test_timeout_s: float = 20.0
    clock: Callable[[], float] = time.monotonic
    last_refresh: datetime | None = None
    limiter: TestLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = TestLimiter(self.tests_per_window, self.test_window_s, self.clock)

    def plugin_registry(self) -> PluginRegistry:
        if self.plugins is None:
            self.plugins = PluginRegistry.create()
        return self.plugins


def settings_of(request: Request) -> AdminSettings:
    s: AdminSettings = request.app.state.settings
    return s
