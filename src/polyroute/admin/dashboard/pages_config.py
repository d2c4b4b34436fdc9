"""The Model catalog (filters, compare, cost calculator) and the Fallback chain builder."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from polyroute.admin.dashboard import apiclient
from polyroute.admin.dashboard.apiclient import Problem, call
from polyroute.admin.dashboard.explain import explain_route
from polyroute.admin.dashboard.forms import read_form
from polyroute.admin.dashboard.render import is_htmx, page, partial, see_other
from polyroute.admin.dashboard.session import DashSession, current

__all__ = ["all_models", "router"]

router = APIRouter()
Session = Annotated[DashSession, Depends(current)]
CAPABILITIES = ("tools", "vision", "json_schema", "streaming")
STRATEGIES = ("priority", "round_robin", "weighted", "least_latency", "lowest_cost", "health",
              "lru", "least_busy", "score")


async def all_models(request: Request, s: DashSession) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for p in await apiclient.items(request, s, "/providers"):
        if p.get("is_system"):
            continue  # file entries have no model rows: the file lists them
        for m in await apiclient.items(request, s, f"/providers/{p['id']}/models"):
            m["ref"] = f"{p['id']}:{m['name']}"
            m["provider_status"] = p.get("status")
            out.append(m)
    return out


def _num(value: str | None, default: float | None = None) -> float | None:
    try:
        return float(value) if value not in (None, "") else default
    except ValueError:
        return default


def _price(m: dict[str, Any], kind: str) -> float | None:
    v = (m.get("pricing_info") or {}).get(kind)
    return float(v) if isinstance(v, int | float) else None


# no query name may look like a secret ("token", "key"...): the app refuses those
@router.get("/models", response_class=HTMLResponse)
async def catalog(
    request: Request, s: Session,
    provider: Annotated[str, Query(max_length=200)] = "",
    capability: Annotated[str, Query(max_length=50)] = "",
    min_context: Annotated[str, Query(max_length=20)] = "",
    max_price: Annotated[str, Query(max_length=20)] = "",
    in_per_call: Annotated[str, Query(max_length=20)] = "1000",
    out_per_call: Annotated[str, Query(max_length=20)] = "500",
    calls: Annotated[str, Query(max_length=20)] = "1000",
    compare: Annotated[list[str] | None, Query()] = None,
) -> HTMLResponse:
    models = await all_models(request, s)
    providers = sorted({m["provider"] for m in models})
    ctx_min, price_max = _num(min_context), _num(max_price)
    t_in, t_out, n = _num(in_per_call, 0.0) or 0.0, _num(out_per_call, 0.0) or 0.0, _num(calls, 0.0)
    shown = []
    for m in models:
        if provider and m["provider"] != provider:
            continue
        if capability and capability not in (m.get("capabilities") or []):
            continue
        if ctx_min is not None and (m.get("context_length") or 0) < ctx_min:
            continue
        pin, pout = _price(m, "input"), _price(m, "output")
        if price_max is not None and (pin is None or pin > price_max):
            continue
        if pin is not None and pout is not None:
            m["per_day"] = (n or 0.0) * (t_in * pin + t_out * pout) / 1e6
            m["per_month"] = m["per_day"] * 30
        shown.append(m)
    picked = [m for m in models if m["ref"] in (compare or [])][:4]
    ctx: dict[str, Any] = {"models": shown, "providers": providers, "capabilities": CAPABILITIES,
           "q": {"provider": provider, "capability": capability, "min_context": min_context,
                 "max_price": max_price, "in_per_call": in_per_call, "out_per_call": out_per_call,
                 "calls": calls}, "compare": picked, "total": len(models)}
    if is_htmx(request):
        return partial(request, s, "_catalog_table.html", **ctx)
    return page(request, s, "catalog.html", "catalog", "Model catalog", **ctx)


# --- fallback chains --------------------------------------------------------------------------

@router.get("/routes", response_class=HTMLResponse)
async def routes(request: Request, s: Session) -> HTMLResponse:
    rows = await apiclient.items(request, s, "/routes")
    models = await all_models(request, s)
    return page(request, s, "routes.html", "routes", "Fallback chains", routes=rows,
                models=models, strategies=STRATEGIES, problem=None)


@router.post("/routes", response_class=HTMLResponse)
async def route_create(request: Request, s: Session) -> Response:
    form = await read_form(request, s)
    name = form.get("name")
    body = {"name": name, "strategy": form.get("strategy") or "priority",
            "tiers": [[form.get("model")]] if form.get("model") else None}
    r = await call(request, s, "POST", "/routes", json={k: v for k, v in body.items() if v})
    if r.ok:
        return see_other(f"/ui/routes/{name}")
    rows = await apiclient.items(request, s, "/routes")
    models = await all_models(request, s)
    return page(request, s, "routes.html", "routes", "Fallback chains", status_code=r.status,
                routes=rows, models=models, strategies=STRATEGIES, problem=r.problem)


async def _chain(request: Request, s: DashSession, name: str, problem: Problem | None = None,
                 notice: str | None = None) -> dict[str, Any]:
    got = await call(request, s, "GET", f"/routes/{name}")
    models = await all_models(request, s)
    verdict = explain_route(request, name) if got.ok else None
    return {"r": got.body if got.ok else None, "models": models, "strategies": STRATEGIES,
            "problem": problem or got.problem, "notice": notice, "verdict": verdict}


@router.get("/routes/{name}", response_class=HTMLResponse)
async def route_page(request: Request, name: str, s: Session) -> Response:
    ctx = await _chain(request, s, name)
    if ctx["r"] is None:
        return see_other("/ui/routes")
    return page(request, s, "route.html", "routes", f"Fallback chain: {name}", **ctx)


def _edit(tiers: list[list[str]], op: str, t: int, i: int, ref: str,
          to: tuple[int, int] = (-1, -1)) -> list[list[str]]:
    """The chain after one edit; positions out of range leave it as it was.

    ``move`` (a dragged candidate) takes it from tier ``t`` position ``i`` to tier
    ``to[0]`` position ``to[1]`` (past the end: last; tier ``len(tiers)``: a new
    last tier); ``move-tier`` puts tier ``t`` at position ``to[0]``.
    """
    tiers = [list(x) for x in tiers]
    if op == "move-tier":
        if 0 <= t < len(tiers) and 0 <= to[0] < len(tiers):
            tiers.insert(to[0], tiers.pop(t))
        return tiers
    if op == "move":
        if not (0 <= t < len(tiers) and 0 <= i < len(tiers[t]) and 0 <= to[0] <= len(tiers)):
            return tiers
        moved = tiers[t][i]
        tiers[t][i] = ""  # a placeholder keeps the target's positions while we insert
        if to[0] == len(tiers):
            tiers.append([])
        row = tiers[to[0]]
        row.insert(max(0, min(to[1], len(row))), moved)
        tiers = [[x for x in tier if x] for tier in tiers]
        return [x for x in tiers if x]
    if op == "add" and ref:
        if t >= len(tiers):
            tiers.append([ref])
        else:
            tiers[t].append(ref)
        return tiers
    if not (0 <= t < len(tiers)):
        return tiers
    if op.startswith("tier-"):
        j = t - 1 if op == "tier-up" else t + 1
        if 0 <= j < len(tiers):
            tiers[t], tiers[j] = tiers[j], tiers[t]
        return tiers
    if not (0 <= i < len(tiers[t])):
        return tiers
    row = tiers[t]
    if op in ("left", "right"):
        j = i - 1 if op == "left" else i + 1
        if 0 <= j < len(row):
            row[i], row[j] = row[j], row[i]
    elif op in ("up", "down"):
        j = t - 1 if op == "up" else t + 1
        if j >= 0:
            moved = row.pop(i)
            if j >= len(tiers):
                tiers.append([])
            tiers[j].append(moved)
    elif op == "remove":
        row.pop(i)
    return [x for x in tiers if x]


@router.post("/routes/{name}/edit", response_class=HTMLResponse)
async def route_edit(request: Request, name: str, s: Session) -> Response:
    form = await read_form(request, s)
    op = form.get("op")
    got = await call(request, s, "GET", f"/routes/{name}")
    problem: Problem | None = got.problem
    notice = None
    if got.ok:
        version = form.get("version") or got.etag
        if op == "strategy":
            change: dict[str, Any] = {"strategy": form.get("strategy")}
        elif op == "status":
            change = {"status": form.get("status")}
        else:
            t, i = int(_num(form.get("tier"), -1) or 0), int(_num(form.get("index"), -1) or 0)
            to = (int(_num(form.get("to_tier"), -1) or 0),
                  int(_num(form.get("to_index"), -1) or 0))
            change = {"tiers": _edit(got.body["tiers"], op, t, i, form.get("model"), to)}
        r = await call(request, s, "PUT", f"/routes/{name}", json=change, if_match=version)
        problem = r.problem
        notice = "Saved." if r.ok else None
    if not is_htmx(request):
        return see_other(f"/ui/routes/{name}")
    ctx = await _chain(request, s, name, problem, notice)
    return partial(request, s, "_chain.html", **ctx)
