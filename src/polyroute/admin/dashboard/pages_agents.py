"""Agents: the agents-by-models assignment matrix and each agent's parameters, inline.

A matrix cell says how an agent reaches a model: as its model, as one of its
fallbacks, or through its route's tiers. An operator assigns a model or a route
with one click in the cell and edits the sampling parameters row by row; each
save is a ``PUT`` under the ``If-Match`` of the version the row was rendered
from, so an edit made meanwhile by someone else is refused, not overwritten.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from polyroute.admin.dashboard import apiclient
from polyroute.admin.dashboard.apiclient import Problem, call
from polyroute.admin.dashboard.forms import Form, read_form
from polyroute.admin.dashboard.pages_config import all_models
from polyroute.admin.dashboard.render import is_htmx, page, partial, see_other
from polyroute.admin.dashboard.session import DashSession, current

__all__ = ["router"]

router = APIRouter()
Session = Annotated[DashSession, Depends(current)]
PARAMS = (("temperature", float), ("top_p", float), ("max_tokens", int))


def matrix(agents: list[dict[str, Any]], models: list[dict[str, Any]],
           routes: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """``cells[agent][column]``: how the agent reaches that model or route, or nothing.

    A column is a model reference or ``route:NAME``.
    """
    tiers = {r["name"]: r.get("tiers") or [] for r in routes}
    out: dict[str, dict[str, str]] = {}
    for a in agents:
        row: dict[str, str] = {}
        if a.get("route"):
            row[f"route:{a['route']}"] = "uses"
            for t, tier in enumerate(tiers.get(a["route"], []), 1):
                for ref in tier:
                    row.setdefault(ref, f"tier {t}")
        if a.get("model"):
            row[a["model"]] = "uses"
        for n, ref in enumerate(a.get("fallbacks") or [], 1):
            row.setdefault(ref, f"fallback {n}")
        out[a["name"]] = row
    known = {m["ref"] for m in models}
    for row in out.values():  # a model no longer in the registry still shows
        for ref in row:
            if not ref.startswith("route:") and ref not in known:
                models.append({"ref": ref, "missing": True})
                known.add(ref)
    return out


async def _context(request: Request, s: DashSession) -> dict[str, Any]:
    agents = await apiclient.items(request, s, "/agents")
    models = await all_models(request, s)
    routes = await apiclient.items(request, s, "/routes")
    return {"agents": agents, "models": models, "routes": [r["name"] for r in routes],
            "cells": matrix(agents, models, routes)}


@router.get("/agents", response_class=HTMLResponse)
async def agents(request: Request, s: Session) -> HTMLResponse:
    return await _agents_page(request, s)


async def _agents_page(request: Request, s: DashSession, problem: Problem | None = None,
                       status_code: int = 200) -> HTMLResponse:
    return page(request, s, "agents.html", "agents", "Agents", status_code=status_code,
                problem=problem, **await _context(request, s))


def _target(value: str) -> dict[str, Any]:
    """``route:NAME`` or a model reference, as the API's model/route pair."""
    if value.startswith("route:"):
        return {"route": value.removeprefix("route:"), "model": None, "fallbacks": []}
    return {"model": value, "route": None}


def _agent_params(form: Form, current: dict[str, Any]) -> dict[str, Any]:
    params = dict(current)
    for name, kind in PARAMS:
        if name not in form.data:
            continue  # a form without the field leaves it as it is
        raw = form.get(name)
        if raw == "":
            params.pop(name, None)
            continue
        try:
            params[name] = kind(raw)
        except ValueError:
            params[name] = raw  # the API names the field and says what it takes
    return params


@router.post("/agents", response_class=HTMLResponse)
async def agent_save(request: Request, s: Session) -> Response:
    form = await read_form(request, s)
    name = form.get("name")
    got = await call(request, s, "GET", f"/agents/{name}") if form.get("existing") else None
    current = got.body if got is not None and got.ok else {}
    body: dict[str, Any] = {**_target(form.get("target")),
                            "params": _agent_params(form, current.get("params") or {})}
    if got is None:
        r = await call(request, s, "POST", "/agents", json={"name": name, **{
            k: v for k, v in body.items() if v not in (None, [], {})}})
    else:
        r = await call(request, s, "PUT", f"/agents/{name}", json=body,
                       if_match=form.get("version") or got.etag)
    if r.ok:
        return see_other("/ui/agents")
    return await _agents_page(request, s, problem=r.problem, status_code=r.status)


@router.post("/agents/{name}/target", response_class=HTMLResponse)
async def agent_target(request: Request, name: str, s: Session) -> Response:
    """A matrix cell's button: this agent now uses that model or route."""
    form = await read_form(request, s)
    r = await call(request, s, "PUT", f"/agents/{name}", json=_target(form.get("target")),
                   if_match=form.get("version") or None)
    if not is_htmx(request):
        return see_other("/ui/agents") if r.ok else await _agents_page(
            request, s, problem=r.problem, status_code=r.status)
    # the agent's parameter row carries its version too: refresh it alongside (out of band)
    return partial(request, s, "_agent_matrix.html",
                   problem=r.problem, notice=None if r.problem else f"{name} updated.",
                   oob_rows=True, **await _context(request, s))


@router.post("/agents/{name}/params", response_class=HTMLResponse)
async def agent_params(request: Request, name: str, s: Session) -> Response:
    """One agent's parameters row, saved in place."""
    form = await read_form(request, s)
    got = await call(request, s, "GET", f"/agents/{name}")
    r = got
    if got.ok:
        body = {"params": _agent_params(form, got.body.get("params") or {})}
        r = await call(request, s, "PUT", f"/agents/{name}", json=body,
                       if_match=form.get("version") or got.etag)
    if not is_htmx(request):
        return see_other("/ui/agents") if r.ok else await _agents_page(
            request, s, problem=r.problem, status_code=r.status)
    fresh = await call(request, s, "GET", f"/agents/{name}")
    a: dict[str, Any] = fresh.body if fresh.ok else {"name": name, "params": {},
                                                     "version": ""}
    if not r.ok:  # keep what the user typed, next to the API's message
        a = {**a, "params": {**(a.get("params") or {}),
                             **{k: form.get(k) for k, _ in PARAMS if k in form.data}}}
    # 200 even when refused: htmx swaps only successful answers, and the refusal is the
    # content to show in place
    return partial(request, s, "_agent_params.html",
                   a=a, problem=r.problem, notice="Saved." if r.ok else None)
