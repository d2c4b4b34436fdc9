"""Usage and cost (charts, CSV), Budgets, Health, the Audit log and the Templates gallery."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from polyroute.admin.dashboard import apiclient
from polyroute.admin.dashboard.apiclient import Problem, call
from polyroute.admin.dashboard.forms import read_form
from polyroute.admin.dashboard.insights import burndown, timeline
from polyroute.admin.dashboard.render import page, see_other
from polyroute.admin.dashboard.session import DashSession, current

__all__ = ["router"]

router = APIRouter()
Session = Annotated[DashSession, Depends(current)]
Since = Annotated[Literal["1h", "24h", "7d", "30d", "all"], Query()]
By = Annotated[Literal["model", "provider", "agent", "route", "day"], Query()]
CSV_COLUMNS = ("key", "requests", "succeeded", "failed", "input_tokens", "output_tokens",
               "cost_usd", "unpriced", "p50_ms", "p95_ms", "ttft_p50_ms", "success_rate",
               "fallback_rate", "cost_per_success")


def _chart_data(report: dict[str, Any]) -> dict[str, Any]:
    """Columns for uPlot: days, cost per provider per day, p50/p95 latency per day."""
    daily = report.get("daily") or []
    providers = sorted({p for d in daily for p in (d.get("cost_by_provider") or {})})
    return {
        "days": [d["day"] for d in daily],
        "cost": {p: [round((d.get("cost_by_provider") or {}).get(p, 0.0), 6) for d in daily]
                 for p in providers},
        "p50": [d.get("p50_ms") for d in daily],
        "p95": [d.get("p95_ms") for d in daily],
    }


@router.get("/usage", response_class=HTMLResponse)
async def usage(request: Request, s: Session, since: Since = "30d", by: By = "model"
                ) -> HTMLResponse:
    r = await call(request, s, "GET", "/usage", params={"since": since, "by": by})
    body = r.body if r.ok and isinstance(r.body, dict) else {}
    report = body.get("report") or {}
    return page(request, s, "usage.html", "usage", "Usage and cost", since=since, by=by,
                configured=body.get("configured", False), ledger=body.get("ledger"),
                report=report, chart=_chart_data(report), problem=r.problem)


@router.get("/usage.csv")
async def usage_csv(request: Request, s: Session, since: Since = "30d", by: By = "model"
                    ) -> Response:
    r = await call(request, s, "GET", "/usage", params={"since": since, "by": by})
    report = ((r.body or {}).get("report") or {}) if r.ok else {}
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([by if c == "key" else c for c in CSV_COLUMNS])
    for g in report.get("groups") or []:
        writer.writerow([_cell(g.get(c)) for c in CSV_COLUMNS])
    return Response(out.getvalue(), media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="polyroute-usage-{by}-{since}.csv"'})


def _cell(value: Any) -> Any:
    # a spreadsheet runs a cell that starts with = + - @ as a formula
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return "" if value is None else value


@router.get("/budgets", response_class=HTMLResponse)
async def budgets(request: Request, s: Session) -> HTMLResponse:
    rows = await apiclient.items(request, s, "/budgets")
    usage_r = await call(request, s, "GET", "/usage", params={"since": "30d", "by": "model"})
    report = ((usage_r.body or {}).get("report") or {}) if usage_r.ok else {}
    spent = {b["budget"]: b for b in report.get("budgets") or []}
    burn = burndown(report, rows, datetime.now(UTC).date()) if report else None
    return page(request, s, "budgets.html", "budgets", "Budgets", budgets=rows, spent=spent,
                burn=burn, problem=None)


@router.post("/budgets", response_class=HTMLResponse)
async def budget_create(request: Request, s: Session) -> Response:
    form = await read_form(request, s)
    body: dict[str, Any] = {"name": form.get("name"), "scope": form.get("scope") or "global",
                            "per": form.get("per") or "month"}
    try:
        body["usd"] = float(form.get("usd"))
    except ValueError:
        body["usd"] = form.get("usd")  # the API names the field and the fix
    r = await call(request, s, "POST", "/budgets", json=body)
    if r.ok:
        return see_other("/ui/budgets")
    rows = await apiclient.items(request, s, "/budgets")
    return page(request, s, "budgets.html", "budgets", "Budgets", status_code=r.status,
                budgets=rows, spent={}, problem=r.problem)


@router.get("/health", response_class=HTMLResponse)
async def health(request: Request, s: Session) -> HTMLResponse:
    r = await call(request, s, "GET", "/health")
    body = r.body if r.ok and isinstance(r.body, dict) else {}
    return page(request, s, "health.html", "health", "Health", configured=body.get(
        "configured", False), deployments=body.get("deployments") or {},
        failovers=body.get("failovers") or {}, problem=r.problem,
        timeline=_timeline(request, await apiclient.items(request, s, "/routes"))
        if r.ok else None)


def _timeline(request: Request, routes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The health tracker's per-window history, from the router the API's ``/health``
    just read (the API answers with totals only; it keeps this router for the server),
    for the config's deployments and the registry routes' candidates alike."""
    router = getattr(request.app.state, "health_router", None)
    if router is None or router.health is None:
        return None
    keys = [d.key for d in router.planner_deployments()]
    for route in routes:
        keys += [ref.replace(":", "/", 1) for tier in route.get("tiers") or [] for ref in tier]
    cfg = router.health.cfg
    return timeline(router.health.snapshot(keys, history=True), cfg.window, cfg.history,
                    time.time())


def _diff(before: dict[str, Any] | None, after: dict[str, Any] | None
          ) -> list[tuple[str, str, str]]:
    b, a = before or {}, after or {}
    out = []
    for key in sorted(set(b) | set(a)):
        if key in ("updated_at", "version") or b.get(key) == a.get(key):
            continue
        out.append((key, _show(b.get(key)) if key in b else "",
                    _show(a.get(key)) if key in a else ""))
    return out


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


@router.get("/audit", response_class=HTMLResponse)
async def audit(
    request: Request, s: Session,
    target_type: Annotated[str, Query(max_length=50)] = "",
    action: Annotated[str, Query(max_length=20)] = "",
    actor: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    params = {"target_type": target_type, "action": action, "actor": actor}
    if not s.may("operator"):
        return page(request, s, "audit.html", "audit", "Audit log", rows=[], q=params,
                    forbidden=True)
    rows = await apiclient.items(request, s, "/audit", params=params, limit=2000)
    rows = list(reversed(rows))[:200]
    for row in rows:
        row["diff"] = _diff(row.get("before"), row.get("after"))
    return page(request, s, "audit.html", "audit", "Audit log", rows=rows, q=params,
                forbidden=False)


@router.get("/templates", response_class=HTMLResponse)
async def templates_gallery(request: Request, s: Session) -> HTMLResponse:
    return await _gallery(request, s)


async def _gallery(request: Request, s: DashSession, problem: Problem | None = None,
                   status_code: int = 200, values: dict[str, str] | None = None
                   ) -> HTMLResponse:
    rows = await apiclient.items(request, s, "/provider-templates")
    for t in rows:
        t["preview"] = json.dumps({"provider_config": t.get("provider_config") or {},
                                   "default_models": t.get("default_models") or []},
                                  indent=2, sort_keys=True)
    return page(request, s, "templates.html", "templates", "Templates", templates=rows,
                status_code=status_code, problem=problem, values=values or {})


@router.post("/templates", response_class=HTMLResponse)
async def template_create(request: Request, s: Session) -> Response:
    """A custom template: a provider type, an endpoint and the models it usually has."""
    form = await read_form(request, s)
    config = {k: form.get(k) for k in ("provider_type", "api_endpoint") if form.get(k)}
    body: dict[str, Any] = {
        "identifier": form.get("identifier"), "provider_config": config,
        "default_models": [{"name": n.strip()} for n in form.get("models").splitlines()
                           if n.strip()]}
    for k in ("name", "description"):
        if form.get(k):
            body[k] = form.get(k)
    r = await call(request, s, "POST", "/provider-templates", json=body)
    if r.ok:
        return see_other("/ui/templates")
    values = {k: form.get(k) for k in ("identifier", "name", "description", "provider_type",
                                       "api_endpoint", "models")}
    return await _gallery(request, s, r.problem, r.status, values)
