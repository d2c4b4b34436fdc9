"""``/api/admin/agents``, ``/routes`` and ``/budgets``: what operators edit day to day.

A route's tiers and an agent's fallbacks are stored as rows; sending ``tiers`` or
``fallbacks`` replaces that list as a whole, under the parent's ``If-Match``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from polyroute.admin.api import views
from polyroute.admin.api.auth import Operator, Viewer, registry
from polyroute.admin.api.common import (
    IfMatch,
    Paging,
    actor,
    if_match,
    listed,
    request_id,
    set_etag,
)
from polyroute.admin.api.schemas import (
    AgentIn,
    AgentOut,
    AgentPatch,
    BudgetIn,
    BudgetOut,
    BudgetPatch,
    Page,
    RouteIn,
    RouteOut,
    RoutePatch,
)

__all__ = ["router"]

router = APIRouter()


def _create(request: Request, response: Response, kind: str, body: BaseModel) -> Any:
    row = registry(request).create(kind, body.model_dump(exclude_unset=True),
                                   actor=actor(request), request_id=request_id(request))
    set_etag(response, row.version)
    return registry(request).get(kind, row.key)


def _read(request: Request, response: Response, kind: str, key: str) -> Any:
    row = registry(request).get(kind, key)
    set_etag(response, row.version)
    return row


def _update(request: Request, response: Response, kind: str, key: str, body: BaseModel,
            header: str | None) -> Any:
    version = if_match(header)
    reg = registry(request)
    reg.update(kind, key, body.model_dump(exclude_unset=True), version=version,
               actor=actor(request), request_id=request_id(request))
    row = reg.get(kind, key)
    set_etag(response, row.version)
    return row


def _delete(request: Request, kind: str, key: str, header: str | None) -> Response:
    version = if_match(header)
    registry(request).delete(kind, key, version=version, actor=actor(request),
                             request_id=request_id(request))
    return Response(status_code=204)


# --- routes ---------------------------------------------------------------------------------

@router.get("/routes", response_model=Page[RouteOut], tags=["routes"], summary="List routes")
def list_routes(request: Request, _: Viewer, paging: Paging,
                status: Annotated[str | None, Query(max_length=20)] = None) -> Page[RouteOut]:
    rows, total = registry(request).list_page("route", limit=paging.limit,
                                              offset=paging.offset, status=status)
    return listed(rows, total, paging, views.route)


@router.post("/routes", status_code=201, response_model=RouteOut, tags=["routes"],
             summary="Create a route: tiers of provider:model (operator)")
def create_route(request: Request, response: Response, body: RouteIn, _: Operator) -> RouteOut:
    return views.route(_create(request, response, "route", body))


@router.get("/routes/{name}", response_model=RouteOut, tags=["routes"], summary="Read a route")
def get_route(request: Request, response: Response, name: str, _: Viewer) -> RouteOut:
    return views.route(_read(request, response, "route", name))


@router.put("/routes/{name}", response_model=RouteOut, tags=["routes"],
            summary="Change a route (operator, If-Match)")
def update_route(request: Request, response: Response, name: str, body: RoutePatch,
                 _: Operator, if_match_: IfMatch = None) -> RouteOut:
    return views.route(_update(request, response, "route", name, body, if_match_))


@router.delete("/routes/{name}", status_code=204, response_class=Response, tags=["routes"],
               summary="Delete a route (operator, If-Match)")
def delete_route(request: Request, name: str, _: Operator, if_match_: IfMatch = None
                 ) -> Response:
    return _delete(request, "route", name, if_match_)


# --- agents ---------------------------------------------------------------------------------

@router.get("/agents", response_model=Page[AgentOut], tags=["agents"], summary="List agents")
def list_agents(request: Request, _: Viewer, paging: Paging,
                route: Annotated[str | None, Query(max_length=200)] = None) -> Page[AgentOut]:
    rows, total = registry(request).list_page("agent", limit=paging.limit,
                                              offset=paging.offset, route=route)
    return listed(rows, total, paging, views.agent)


@router.post("/agents", status_code=201, response_model=AgentOut, tags=["agents"],
             summary="Create an agent: a model (with fallbacks) or a route (operator)")
def create_agent(request: Request, response: Response, body: AgentIn, _: Operator) -> AgentOut:
    return views.agent(_create(request, response, "agent", body))


@router.get("/agents/{name}", response_model=AgentOut, tags=["agents"], summary="Read an agent")
def get_agent(request: Request, response: Response, name: str, _: Viewer) -> AgentOut:
    return views.agent(_read(request, response, "agent", name))


@router.put("/agents/{name}", response_model=AgentOut, tags=["agents"],
            summary="Change an agent (operator, If-Match)")
def update_agent(request: Request, response: Response, name: str, body: AgentPatch,
                 _: Operator, if_match_: IfMatch = None) -> AgentOut:
    return views.agent(_update(request, response, "agent", name, body, if_match_))


@router.delete("/agents/{name}", status_code=204, response_class=Response, tags=["agents"],
               summary="Delete an agent (operator, If-Match)")
def delete_agent(request: Request, name: str, _: Operator, if_match_: IfMatch = None
                 ) -> Response:
    return _delete(request, "agent", name, if_match_)


# --- budgets --------------------------------------------------------------------------------

@router.get("/budgets", response_model=Page[BudgetOut], tags=["budgets"], summary="List budgets")
def list_budgets(request: Request, _: Viewer, paging: Paging,
                 scope: Annotated[str | None, Query(max_length=300)] = None) -> Page[BudgetOut]:
    rows, total = registry(request).list_page("budget", limit=paging.limit,
                                              offset=paging.offset, scope=scope)
    return listed(rows, total, paging, views.budget)


@router.post("/budgets", status_code=201, response_model=BudgetOut, tags=["budgets"],
             summary="Create a budget (operator)")
def create_budget(request: Request, response: Response, body: BudgetIn, _: Operator
                  ) -> BudgetOut:
    return views.budget(_create(request, response, "budget", body))


@router.get("/budgets/{name}", response_model=BudgetOut, tags=["budgets"],
            summary="Read a budget")
def get_budget(request: Request, response: Response, name: str, _: Viewer) -> BudgetOut:
    return views.budget(_read(request, response, "budget", name))


@router.put("/budgets/{name}", response_model=BudgetOut, tags=["budgets"],
            summary="Change a budget (operator, If-Match)")
def update_budget(request: Request, response: Response, name: str, body: BudgetPatch,
                  _: Operator, if_match_: IfMatch = None) -> BudgetOut:
    return views.budget(_update(request, response, "budget", name, body, if_match_))


@router.delete("/budgets/{name}", status_code=204, response_class=Response, tags=["budgets"],
               summary="Delete a budget (operator, If-Match)")
def delete_budget(request: Request, name: str, _: Operator, if_match_: IfMatch = None
                  ) -> Response:
    return _delete(request, "budget", name, if_match_)
