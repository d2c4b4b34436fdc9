"""Templates, and the helpers every page handler shares."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from polyroute.admin.dashboard.session import DashSession

__all__ = ["NAV", "is_htmx", "page", "partial", "see_other", "templates"]

templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))

NAV = [
    ("providers", "Providers", "/ui/"),
    ("catalog", "Models", "/ui/models"),
    ("routes", "Fallback chains", "/ui/routes"),
    ("agents", "Agents", "/ui/agents"),
    ("usage", "Usage and cost", "/ui/usage"),
    ("budgets", "Budgets", "/ui/budgets"),
    ("health", "Health", "/ui/health"),
    ("audit", "Audit log", "/ui/audit"),
    ("templates", "Templates", "/ui/templates"),
]


def _when(value: Any) -> str:
    if not value:
        return "never"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    text = str(value)
    return text[:16].replace("T", " ") + " UTC" if len(text) >= 16 else text


def _usd(value: Any) -> str:
    if value is None:
        return "-"
    v = float(value)
    if abs(v) < 0.01:
        return f"${v:,.6f}"
    return f"${v:,.4f}" if abs(v) < 1 else f"${v:,.2f}"


def _tojson_script(value: Any) -> Markup:
    # inside <script type="application/json">: '</' must not close the element
    return Markup(json.dumps(value).replace("</", "<\\/"))


templates.env.filters["when"] = _when
templates.env.filters["usd"] = _usd
templates.env.filters["json_script"] = _tojson_script


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def page(request: Request, s: DashSession | None, name: str, active: str, title: str,
         status_code: int = 200, **ctx: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {
        "s": s, "nav": NAV, "active": active, "title": title, **ctx,
    }, status_code=status_code)


def partial(request: Request, s: DashSession, name: str, status_code: int = 200,
            **ctx: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"s": s, **ctx}, status_code=status_code)


def see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303)
