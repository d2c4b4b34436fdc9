"""The web dashboard: server-rendered pages (Jinja2 + htmx) at ``/ui`` of the admin app.

Every read and every change goes through the admin API itself, in process, with
the signed-in user's own token (``apiclient``): the dashboard enforces the same
roles, validation, ETags and audit as the API because it *is* an API client, and
it hides what the user's role cannot do on top of that. Scripts, styles and the
chart library ship in ``static/``; nothing is loaded from another site.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from polyroute.admin.dashboard import pages_agents, pages_config, pages_core, pages_reports
from polyroute.admin.dashboard.session import (
    CsrfError,
    LoginRequired,
    SessionStore,
    login_redirect,
    same_origin,
)

__all__ = ["UI", "install"]

UI = "/ui"
STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Mount the dashboard on ``app`` (the admin API's app) at ``/ui``."""
    app.state.dashboard_sessions = SessionStore()
    for module in (pages_core, pages_config, pages_agents, pages_reports):
        app.include_router(module.router, prefix=UI, include_in_schema=False,
                           dependencies=[Depends(same_origin)])
    app.mount(f"{UI}/static", StaticFiles(directory=STATIC), name="dashboard-static")

    async def _login(request: Request, exc: Exception) -> Response:
        return login_redirect(request)

    async def _csrf(request: Request, exc: Exception) -> Response:
        reason = exc.reason if isinstance(exc, CsrfError) else "CSRF check failed."
        return HTMLResponse(
            "<!doctype html><html lang=en><title>Refused</title><main><h1>Refused</h1>"
            f"<p>{escape(reason)} "
            "<a href=/ui/>Reload the dashboard</a> and try again.</p></main></html>",
            status_code=403)

    app.add_exception_handler(LoginRequired, _login)
    app.add_exception_handler(CsrfError, _csrf)

    @app.get("/", include_in_schema=False)
    def _root() -> RedirectResponse:
        return RedirectResponse(f"{UI}/", status_code=307)
