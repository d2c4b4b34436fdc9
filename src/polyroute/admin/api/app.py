"""The admin REST API: ``create_app()`` builds it, ``polyroute serve`` runs it.

Every endpoint is under ``/api/admin`` and needs a bearer token; the OpenAPI
document is ``/openapi.json``. Middleware gives each request an id (the
``X-Request-ID`` it came with, when well-formed), refuses secrets in query
strings, and logs method, path, status and id — never a query string or a body.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response

from polyroute.admin import Registry, dashboard
from polyroute.admin.api import (
    access,
    approvals,
    config_resources,
    models,
    providers,
    summaries,
    templates,
)
from polyroute.admin.api.auth import SECRET_QUERY
from polyroute.admin.api.errors import error_response, install_error_handlers
from polyroute.admin.api.schemas import ErrorResponse
from polyroute.admin.api.settings import AdminSettings

__all__ = ["PREFIX", "create_app"]

PREFIX = "/api/admin"
log = logging.getLogger("polyroute.admin.api")
_RID = re.compile(r"^[A-Za-z0-9._:\-]{1,100}$")
_ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorResponse, "description": "An error (see the error shape)"},
    "5XX": {"model": ErrorResponse, "description": "A server-side error"},
}


def create_app(registry_url: str | None = None, *, settings: AdminSettings | None = None,
               registry: Registry | None = None) -> FastAPI:
    """The admin API over the registry at ``registry_url`` (default: ``default_url()``).

    Opening the registry checks its schema revision first: a database behind or
    ahead of this polyroute raises ``SchemaRevisionError`` here, once, instead of
    every request failing.
    """
    settings = settings or AdminSettings()
    reg = registry or Registry(registry_url)
    if settings.keyring is not None:
        reg.keyring = settings.keyring
    reg.require_approval = reg.require_approval or settings.require_approval
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        router = getattr(app.state, "health_router", None)
        if router is not None:  # the /health summary's router holds connections
            router.close()

    app = FastAPI(
        title="polyroute admin API", version="1", lifespan=lifespan,
        description="Providers, models, templates, routes, agents, budgets, API tokens and "
                    "the audit log of a polyroute registry. See docs/admin-api.md.",
        responses=_ERRORS,
    )
    app.state.registry = reg
    app.state.settings = settings
    install_error_handlers(app)
    dashboard.install(app)  # the web dashboard at /ui (docs/dashboard.md)
    for module in (providers, models, templates, config_resources, access, approvals, summaries):
        app.include_router(module.router, prefix=PREFIX)

    @app.middleware("http")
    async def _frame(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                     ) -> Response:
        sent = request.headers.get("X-Request-ID", "")
        rid = sent if _RID.match(sent) else uuid.uuid4().hex
        request.state.request_id = rid
        started = time.perf_counter()
        leaked = [k for k, v in request.query_params.multi_items()
                  if SECRET_QUERY.search(k) or v.startswith("prt_")]
        if leaked:
            response: Response = error_response(
                request, 400, "secret_in_query",
                "credentials are never accepted in a query string (they end up in logs)",
                field=leaked[0],
                suggestions=["send the token as Authorization: Bearer <token>, and secrets in "
                             "the JSON body", "revoke the token if it was real: it may be "
                             "in a proxy's log now"])
        else:
            response = await call_next(request)
        response.headers["X-Request-ID"] = rid
        log.info("%s %s -> %s (%.1f ms, request %s)", request.method, request.url.path,
                 response.status_code, (time.perf_counter() - started) * 1000.0, rid)
        return response

    return app
