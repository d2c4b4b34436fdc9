"""Read-only summaries for the dashboard: ``/api/admin/usage`` (the ledger, as
``polyroute usage`` reads it) and ``/api/admin/health`` (as ``polyroute health``).
Both are empty, with ``configured: false``, when the server has no config file or
the config has no ledger."""

from __future__ import annotations

import threading
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from polyroute.admin.api.auth import Viewer
from polyroute.admin.api.errors import ApiError
from polyroute.admin.api.settings import settings_of

__all__ = ["router"]

router = APIRouter(tags=["summaries"])
_lock = threading.Lock()


class UsageSummary(BaseModel):
    configured: bool
    ledger: str | None = None
    report: dict[str, Any] | None = None


class HealthSummary(BaseModel):
    configured: bool
    deployments: dict[str, Any] = {}
    failovers: dict[str, Any] = {}


@router.get("/usage", response_model=UsageSummary,
            summary="Usage figures from the ledger (requests, tokens, cost, latency)")
def usage(
    request: Request, _: Viewer,
    by: Annotated[Literal["model", "provider", "agent", "day", "route", "tenant"],
                  Query()] = "model",
    since: Annotated[str, Query(pattern=r"^(all|\d{1,6}[smhdw])$",
                                description="24h, 7d, 30d … or all")] = "30d",
) -> UsageSummary:
    from polyroute.analytics.stats import usage_stats
    from polyroute.config import load_config

    settings = settings_of(request)
    if settings.config_path is None:
        return UsageSummary(configured=False)
    cfg = load_config(settings.config_path)
    if cfg.ledger is None:
        return UsageSummary(configured=False)
    path = cfg.ledger.target(cfg.source)
    try:
        report = usage_stats(path, by=by, since=None if since == "all" else since,
                             budgets=list(cfg.budgets))
    except FileNotFoundError:
        return UsageSummary(configured=True, ledger=_shown(path))
    except ValueError as exc:
        raise ApiError(422, "validation_error", str(exc), field="since",
                       suggestions=["use 24h, 7d, 30d or all"]) from None
    return UsageSummary(configured=True, ledger=_shown(path), report=report.as_dict())


def _shown(target: str) -> str:
    """The ledger as a page may show it: a PostgreSQL URL without its password."""
    from polyroute.ledger.reader import is_postgres

    if is_postgres(target):
        from polyroute.ledger.postgres import redact_dsn

        return redact_dsn(target)
    return target


@router.get("/health", response_model=HealthSummary,
            summary="Health of the configured deployments, and failover counts")
def health(request: Request, _: Viewer) -> HealthSummary:
    from polyroute.router import Router

    settings = settings_of(request)
    if settings.config_path is None:
        return HealthSummary(configured=False)
    with _lock:  # one router per server: health is read from its (shared) state store
        router: Router | None = getattr(request.app.state, "health_router", None)
        if router is None:
            router = Router(settings.config_path, registry=settings.plugin_registry())
            request.app.state.health_router = router
    return HealthSummary(configured=True, deployments=router.health_snapshot(),
                         failovers=router.failover_stats())
