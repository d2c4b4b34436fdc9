"""The dashboard's only way to the registry: the admin API, called in process.

A request goes through the same ASGI app (middleware, auth, validation, error
shape, audit) with the signed-in user's token and the page request's id, so an
audit row written from the dashboard names the same user and request id as the
page's own log line, and whatever the API refuses, the dashboard refuses.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import Request

from polyroute.admin.dashboard.session import DashSession

__all__ = ["ApiResult", "Problem", "call"]


@dataclass
class Problem:
    """The API's error body, ready to show next to a field or at the top of a form."""

    status: int
    code: str
    message: str
    field: str | None = None
    suggestions: list[str] = dataclasses.field(default_factory=list)
    problems: list[dict[str, str]] = dataclasses.field(default_factory=list)

    def for_field(self, name: str) -> str | None:
        """The message for the form field ``name`` (the API names e.g. ``api_endpoint``)."""
        entries = self.problems or [{"field": self.field or "", "message": self.message}]
        for p in entries:
            f = p.get("field") or ""
            if f == name or f.startswith(f"{name}."):
                return p.get("message") or self.message
        return None


@dataclass
class ApiResult:
    status: int
    body: Any
    etag: str | None = None
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


async def call(request: Request, s: DashSession, method: str, path: str, *,
               json: Any = None, params: dict[str, Any] | None = None,
               if_match: str | int | None = None) -> ApiResult:
    headers = {"Authorization": f"Bearer {s.token}"}
    rid = getattr(request.state, "request_id", None)
    if rid:
        headers["X-Request-ID"] = str(rid)
    if if_match is not None:
        headers["If-Match"] = f'"{if_match}"' if isinstance(if_match, int) else if_match
    transport = httpx.ASGITransport(app=request.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin.local") as client:
        resp = await client.request(method, f"/api/admin{path}", json=json, headers=headers,
                                    params={k: v for k, v in (params or {}).items()
                                            if v not in (None, "")})
    body: Any = resp.json() if resp.content and resp.headers.get(
        "content-type", "").startswith("application/json") else None
    problem = None
    if resp.status_code >= 400:
        err = (body or {}).get("error", {}) if isinstance(body, dict) else {}
        problem = Problem(
            status=resp.status_code, code=str(err.get("code", "error")),
            message=str(err.get("message", f"the API answered {resp.status_code}")),
            field=err.get("field"), suggestions=list(err.get("suggestions") or []),
            problems=list((err.get("details") or {}).get("problems") or []),
        )
    return ApiResult(resp.status_code, body, resp.headers.get("ETag"), problem)


async def items(request: Request, s: DashSession, path: str,
                params: dict[str, Any] | None = None, limit: int = 1000) -> list[Any]:
    """Every item of a paged list (up to ``limit``)."""
    out: list[Any] = []
    offset = 0
    while len(out) < limit:
        r = await call(request, s, "GET", path, params={**(params or {}), "limit": 200,
                                                      "offset": offset})
        if not r.ok or not isinstance(r.body, dict):
            break
        out += r.body.get("items", [])
        nxt = r.body.get("next_offset")
        if nxt is None:
            break
        offset = int(nxt)
    return out
