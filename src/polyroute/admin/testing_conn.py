"""Connectivity, auth and model-availability tests of a registry provider.

The same checks as ``polyroute test`` (``polyroute.router.checks``), run through
a throw-away router built for this one provider: its own in-memory state, one
attempt, short timeouts, so a test never spends the production rate-limit budget
and production traffic never spends the test's. The endpoint passes the SSRF
guard again right before the stored key is decrypted (DNS may have changed
since the write), and tests are limited per provider by ``TestLimiter``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from polyroute.admin.credentials import CredentialsMixin
from polyroute.admin.errors import RegistryNotFoundError
from polyroute.admin.models import Provider
from polyroute.admin.source import _provider
from polyroute.admin.ssrf import Resolver, check_endpoint
from polyroute.config.schema import PolyrouteConfig
from polyroute.plugins import PluginRegistry

__all__ = ["TestLimiter", "run_provider_test"]


class TestLimiter:
    """At most ``limit`` tests per provider in any ``window`` seconds."""

    __test__ = False  # not a pytest class

    def __init__(self, limit: int = 6, window: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.clock = limit, window, clock
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float | None:
        """``None`` if a test may run now, else the seconds until one may."""
        now = self.clock()
        with self._lock:
            times = self._seen.setdefault(key, deque())
            while times and now - times[0] >= self.window:
                times.popleft()
            if len(times) >= self.limit:
                return max(0.0, self.window - (now - times[0]))
            times.append(now)
            return None


def run_provider_test(
    reg: CredentialsMixin, identifier: str, *, model: str | None = None,
    plugins: PluginRegistry | None = None, allow_private: bool = False,
    resolve: Resolver | None = None, timeout: float = 20.0,
) -> dict[str, Any]:
    """Run the checks against ``identifier`` (and ``model``, else its default model)."""
    from polyroute.router import LiveCatalog, Router
    from polyroute.router.checks import ProviderResult, run_checks

    with reg.reading() as session:
        row = session.execute(
            select(Provider).options(selectinload(Provider.models))
            .where(Provider.identifier == identifier)
        ).scalar_one_or_none()
        if row is None:
            raise RegistryNotFoundError(f"no provider '{identifier}' in the registry",
                                        fix="list the providers to see the stored names")
        if row.api_endpoint:
            # before the key is decrypted: it must never travel to an internal address
            check_endpoint(row.api_endpoint, field="api_endpoint", allow_private=allow_private,
                           resolve=resolve)
        pc = _provider(session, row, reg)
        if model is None:
            defaults = [m.name for m in row.models if m.is_default] or [
                m.name for m in row.models if m.status == "active"]
            model = defaults[0] if defaults else None
    base = PolyrouteConfig()
    cfg = PolyrouteConfig(
        providers={identifier: pc.model_copy(update={"rpm": None, "tpm": None})},
        retry=base.retry.model_copy(update={"attempts": 1}),
        timeouts=base.timeouts.model_copy(update={
            "read": timeout, "connect": min(timeout, base.timeouts.connect), "total": timeout}),
    )
    router = Router(cfg, registry=plugins)
    try:
        prov = router.provider(identifier)
        type_name = prov.type_name if prov is not None else (row.provider_type or "")
        result = ProviderResult(identifier, type_name, model)

        async def go() -> None:
            try:
                await run_checks(router, LiveCatalog(router), result)
            finally:
                await router.aclose()

        asyncio.run(go())
    finally:
        router.close()
    return {
        "provider": identifier, "model": result.model, "ok": result.ok,
        "tested_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "checks": [asdict(c) for c in result.checks],
    }
