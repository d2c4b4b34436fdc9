"""Sign-in, the Providers page (cards and quick actions) and the Add provider wizard."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from polyroute.admin import Registry
from polyroute.admin.api.schemas import ApplyTemplate
from polyroute.admin.api.settings import settings_of
from polyroute.admin.dashboard import apiclient
from polyroute.admin.dashboard.apiclient import Problem, call
from polyroute.admin.dashboard.forms import read_form
from polyroute.admin.dashboard.render import is_htmx, page, partial, see_other
from polyroute.admin.dashboard.session import (
    COOKIE,
    LOGIN_COOKIE,
    DashSession,
    check_login_csrf,
    current,
    new_login_csrf,
    set_cookie,
    set_login_cookie,
    store,
)
from polyroute.errors import ConfigError

__all__ = ["router"]

router = APIRouter()
Session = Annotated[DashSession, Depends(current)]
WIZARD_FIELDS = ("identifier", "name", "api_endpoint", "api_key", "description")


# --- sign-in ----------------------------------------------------------------------------------

@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> HTMLResponse:
    return _login_page(request)


def _login_page(request: Request, status_code: int = 200, error: str | None = None
                ) -> HTMLResponse:
    value = new_login_csrf()
    response = page(request, None, "login.html", "", "Sign in", status_code=status_code,
                    error=error, login_csrf=value)
    set_login_cookie(request, response, value)
    return response


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    form = await read_form(request)
    check_login_csrf(request, form.get("login_csrf"))
    token = form.get("token")
    reg: Registry = request.app.state.registry
    user = reg.authenticate(token) if token else None
    if user is None:
        return _login_page(request, 401, "That API token is unknown, expired or revoked. Ask "
                                         "an admin for one (POST /api/admin/tokens).")
    s = store(request).open(token, user.name, user.role)
    response = see_other("/ui/")
    set_cookie(request, response, s)
    response.delete_cookie(LOGIN_COOKIE, path="/ui")
    return response


@router.post("/logout")
async def logout(request: Request, s: Session) -> Response:
    await read_form(request, s)
    store(request).close(s.sid)
    response = see_other("/ui/login")
    response.delete_cookie(COOKIE, path="/ui")
    return response


# --- providers --------------------------------------------------------------------------------

def _health_by_provider(health: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The worst circuit state and lowest score among each provider's deployments."""
    out: dict[str, dict[str, Any]] = {}
    for key, h in (health.get("deployments") or {}).items():
        provider = str(key).split("/")[0].split(":")[0]
        if not isinstance(h, dict):
            continue
        cur = out.setdefault(provider, {"circuit": "closed", "score": None})
        circuit = h.get("circuit")  # the breaker's info: {"state": ..., "why": ...}
        state = str((circuit.get("state") if isinstance(circuit, dict) else circuit)
                    or "closed")
        if state != "closed":
            cur["circuit"] = state
        score = h.get("score", h.get("health"))
        if isinstance(score, int | float):
            cur["score"] = score if cur["score"] is None else min(cur["score"], score)
    return out


async def _card_context(request: Request, s: DashSession) -> dict[str, Any]:
    health = await call(request, s, "GET", "/health")
    usage = await call(request, s, "GET", "/usage", params={"by": "provider", "since": "1h"})
    groups = ((usage.body or {}).get("report") or {}).get("groups") or [] if usage.ok else []
    return {
        "health": _health_by_provider(health.body or {}) if health.ok else {},
        "hour": {g["key"]: g for g in groups},
    }


@router.get("/", response_class=HTMLResponse)
async def providers(request: Request, s: Session) -> HTMLResponse:
    rows = await apiclient.items(request, s, "/providers")
    ctx = await _card_context(request, s)
    return page(request, s, "providers.html", "providers", "Providers", providers=rows, **ctx)


async def _card(request: Request, s: DashSession, pid: str, *, result: Any = None,
                problem: Problem | None = None, notice: str | None = None) -> Response:
    got = await call(request, s, "GET", f"/providers/{pid}")
    if not got.ok:
        return HTMLResponse(f'<p role="status" class="notice">{_esc(notice or "")}</p>')
    ctx = await _card_context(request, s)
    return partial(request, s, "_provider_card.html", p=got.body, result=result,
                   problem=problem, notice=notice, **ctx)


def _esc(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


async def _after(request: Request, s: DashSession, pid: str, *, result: Any = None,
                 problem: Problem | None = None, notice: str | None = None) -> Response:
    if is_htmx(request):
        return await _card(request, s, pid, result=result, problem=problem, notice=notice)
    return see_other("/ui/")


@router.post("/providers/{pid}/test")
async def provider_test(request: Request, pid: str, s: Session) -> Response:
    await read_form(request, s)
    r = await call(request, s, "POST", f"/providers/{pid}/test")
    return await _after(request, s, pid, result=r.body if r.ok else None, problem=r.problem)


@router.post("/providers/{pid}/status")
async def provider_status(request: Request, pid: str, s: Session) -> Response:
    form = await read_form(request, s)
    r = await call(request, s, "PUT", f"/providers/{pid}", json={"status": form.get("status")},
                   if_match=form.get("version") or None)
    note = f"{pid} is now {form.get('status')}" if r.ok else None
    return await _after(request, s, pid, problem=r.problem, notice=note)


@router.post("/providers/{pid}/delete")
async def provider_delete(request: Request, pid: str, s: Session) -> Response:
    form = await read_form(request, s)
    if form.get("confirm") != pid:
        problem = Problem(422, "not_confirmed", f"type '{pid}' to confirm the deletion",
                          field="confirm")
        return await _after(request, s, pid, problem=problem)
    r = await call(request, s, "DELETE", f"/providers/{pid}", if_match=form.get("version"))
    if r.ok and is_htmx(request):
        return HTMLResponse(f'<p role="status" class="notice">Deleted provider '
                            f'{_esc(pid)}.</p>')
    return await _after(request, s, pid, problem=r.problem)


@router.post("/providers/{pid}/edit")
async def provider_edit(request: Request, pid: str, s: Session) -> Response:
    form = await read_form(request, s)
    change: dict[str, Any] = {k: form.get(k) for k in ("name", "api_endpoint", "description")
                              if form.get(k) or k == "description"}
    if form.raw("api_key"):
        change["api_key"] = form.raw("api_key")  # blank keeps the stored key
    r = await call(request, s, "PUT", f"/providers/{pid}", json=change,
                   if_match=form.get("version") or None)
    return await _after(request, s, pid, problem=r.problem,
                        notice=f"Saved {pid}." if r.ok else None)


# --- the add-provider wizard ------------------------------------------------------------------

@router.get("/providers/new", response_class=HTMLResponse)
async def wizard_pick(request: Request, s: Session) -> Response:
    if not s.may("admin"):
        return see_other("/ui/")  # not offered: only an admin may add a provider
    tpls = await apiclient.items(request, s, "/provider-templates")
    return page(request, s, "wizard_pick.html", "providers", "Add a provider", templates=tpls)


def _wizard_values(template: dict[str, Any]) -> dict[str, str]:
    cfg = template.get("provider_config") or {}
    return {"api_endpoint": str(cfg.get("base_url") or cfg.get("api_endpoint") or ""),
            "name": "", "identifier": "", "description": ""}


async def _template(request: Request, s: DashSession, tid: str) -> dict[str, Any] | None:
    # the API lists templates (there is no GET of one)
    found = [t for t in await apiclient.items(request, s, "/provider-templates")
             if t.get("id") == tid]
    return found[0] if found else None


@router.get("/providers/new/{tid}", response_class=HTMLResponse)
async def wizard_form(request: Request, tid: str, s: Session) -> Response:
    tpl = await _template(request, s, tid) if s.may("admin") else None
    if tpl is None:
        return see_other("/ui/providers/new")
    return page(request, s, "wizard_form.html", "providers", f"Add a provider: {tid}",
                template=tpl, values=_wizard_values(tpl), errors={}, problem=None)


def _wizard_body(form: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"identifier": form.get("identifier"), "status": "testing",
                            "include_default_models": False}
    for name in ("name", "api_endpoint", "description"):
        if form.get(name):
            body[name] = form.get(name)
    if form.raw("api_key"):
        body["api_key"] = form.raw("api_key")
    return body


def _local_problem(request: Request, body: dict[str, Any]) -> Problem | None:
    """The checks the API runs on apply that need no write: the schema and the endpoint
    (every field's problem, so each field can show its own while the form is filled)."""
    from polyroute.admin.ssrf import check_endpoint

    problems: list[dict[str, str]] = []
    try:
        ApplyTemplate.model_validate(body)
    except ValidationError as exc:
        problems += [{"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
                     for e in exc.errors()]
    if body.get("api_endpoint") and not any(p["field"] == "api_endpoint" for p in problems):
        settings = settings_of(request)
        try:
            check_endpoint(body["api_endpoint"], field="api_endpoint",
                           allow_private=settings.allow_private_endpoints,
                           resolve=settings.resolver)
        except ConfigError as exc:
            problems.append({"field": "api_endpoint", "message": exc.reason})
    if not problems:
        return None
    return Problem(422, "validation_error", problems[0]["message"], field=problems[0]["field"],
                   problems=problems)


@router.post("/providers/new/{tid}/validate", response_class=HTMLResponse)
async def wizard_validate(request: Request, tid: str, s: Session) -> HTMLResponse:
    """Live validation of one field (htmx, on change): its message, or nothing."""
    form = await read_form(request, s)
    name = request.headers.get("HX-Trigger-Name", "")
    body = _wizard_body(form)
    problem = _local_problem(request, body)
    message = problem.for_field(name) if problem else None
    if message is None and name == "identifier" and body["identifier"]:
        exists = await call(request, s, "GET", f"/providers/{body['identifier']}")
        if exists.ok:
            message = f"a provider named '{body['identifier']}' exists already; pick another"
    return HTMLResponse(_esc(message or ""))


@router.post("/providers/new/{tid}", response_class=HTMLResponse)
async def wizard_save(request: Request, tid: str, s: Session) -> Response:
    form = await read_form(request, s)
    body = _wizard_body(form)
    r = await call(request, s, "POST", f"/provider-templates/{tid}/apply", json=body)
    if r.ok:
        # a custom template's provider does not name it: the next step is told which
        return see_other(f"/ui/providers/{body['identifier']}/setup?template={tid}")
    tpl = await _template(request, s, tid)
    assert r.problem is not None
    errors = {f: m for f in WIZARD_FIELDS if (m := r.problem.for_field(f))}
    values = {f: form.get(f) for f in WIZARD_FIELDS if f != "api_key"}
    return page(request, s, "wizard_form.html", "providers", f"Add a provider: {tid}",
                status_code=r.status, template=tpl or {"id": tid}, values=values,
                errors=errors, problem=r.problem)


@router.get("/providers/{pid}/setup", response_class=HTMLResponse)
async def wizard_setup(request: Request, pid: str, s: Session,
                       template: Annotated[str, Query(max_length=100)] = "") -> Response:
    got = await call(request, s, "GET", f"/providers/{pid}")
    if not got.ok or not s.may("admin"):
        return see_other("/ui/")
    suggested: list[str] = []
    tid = template or got.body.get("template")
    if tid:
        tpl = await _template(request, s, tid)
        if tpl is not None:
            suggested = [str(m.get("name")) for m in tpl.get("default_models") or []
                         if isinstance(m, dict) and m.get("name")]
    models = await apiclient.items(request, s, f"/providers/{pid}/models")
    return page(request, s, "wizard_setup.html", "providers", f"Set up {pid}", p=got.body,
                suggested=suggested, models=models, problem=None)


@router.post("/providers/{pid}/setup", response_class=HTMLResponse)
async def wizard_finish(request: Request, pid: str, s: Session) -> Response:
    form = await read_form(request, s)
    names = form.all("model") + [n.strip() for n in form.get("more").splitlines() if n.strip()]
    problem: Problem | None = None
    for i, name in enumerate(dict.fromkeys(names)):
        r = await call(request, s, "POST", f"/providers/{pid}/models",
                       json={"name": name, "is_default": i == 0})
        if not r.ok:
            problem = r.problem
            break
    if problem is None and form.get("activate"):
        got = await call(request, s, "GET", f"/providers/{pid}")
        if got.ok:
            r = await call(request, s, "PUT", f"/providers/{pid}", json={"status": "active"},
                           if_match=got.etag)
            problem = r.problem
    if problem is None:
        return see_other("/ui/")
    got = await call(request, s, "GET", f"/providers/{pid}")
    models = await apiclient.items(request, s, f"/providers/{pid}/models")
    return page(request, s, "wizard_setup.html", "providers", f"Set up {pid}",
                status_code=problem.status, p=got.body, suggested=[], models=models,
                problem=problem)
