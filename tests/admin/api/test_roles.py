"""Every endpoint by every role, built from the app's own OpenAPI paths: a new endpoint
without a row in ``REQUIRED`` fails ``test_every_endpoint_has_a_row``."""

from __future__ import annotations

import pytest
from admin_api_support import API, PROVIDER, Api, error_shape

REQUIRED = {
    ("GET", "/providers"): "viewer",
    ("POST", "/providers"): "admin",
    ("GET", "/providers/{provider_id}"): "viewer",
    ("PUT", "/providers/{provider_id}"): "operator",  # operators: status only (below)
    ("DELETE", "/providers/{provider_id}"): "admin",
    ("POST", "/providers/{provider_id}/test"): "operator",
    ("GET", "/providers/{provider_id}/models"): "viewer",
    ("POST", "/providers/{provider_id}/models"): "admin",
    ("GET", "/providers/registry-status"): "viewer",
    ("POST", "/providers/refresh-registry"): "admin",
    ("GET", "/models/{model_id}"): "viewer",
    ("PUT", "/models/{model_id}"): "operator",  # operators: status only
    ("DELETE", "/models/{model_id}"): "admin",
    ("POST", "/models/{model_id}/test"): "operator",
    ("GET", "/provider-templates"): "viewer",
    ("POST", "/provider-templates"): "admin",
    ("PUT", "/provider-templates/{template_id}"): "admin",
    ("DELETE", "/provider-templates/{template_id}"): "admin",
    ("POST", "/provider-templates/{template_id}/apply"): "admin",
    **{(m, f"/{kind}{tail}"): role
       for kind in ("routes", "agents", "budgets")
       for m, tail, role in (("GET", "", "viewer"), ("POST", "", "operator"),
                             ("GET", "/{name}", "viewer"), ("PUT", "/{name}", "operator"),
                             ("DELETE", "/{name}", "operator"))},
    ("POST", "/tokens"): "admin",
    ("GET", "/tokens"): "admin",
    ("DELETE", "/tokens/{token_id}"): "admin",
    ("GET", "/tokens/{token_id}"): "admin",
    ("POST", "/tokens/{token_id}/rotate"): "admin",
    ("GET", "/approvals"): "operator",
    ("POST", "/approvals"): "admin",
    ("GET", "/approvals/{change_id}"): "operator",
    ("POST", "/approvals/{change_id}/approve"): "admin",
    ("POST", "/approvals/{change_id}/reject"): "admin",
    ("GET", "/audit"): "operator",
    ("GET", "/audit/verify"): "operator",
    ("GET", "/usage"): "viewer",
    ("GET", "/health"): "viewer",
}
RANK = {"viewer": 0, "operator": 1, "admin": 2}
ENDPOINTS = sorted(REQUIRED)
PATH_VALUES = {"provider_id": "acme", "model_id": "1", "template_id": "tpl", "name": "x",
               "token_id": "tok_missing", "change_id": "999"}


def _app_endpoints(api: Api) -> set[tuple[str, str]]:
    paths = api.client.get("/openapi.json").json()["paths"]
    return {(m.upper(), p.removeprefix(API)) for p, ops in paths.items() for m in ops}


def test_every_endpoint_has_a_row(shared_api: Api) -> None:
    lite = shared_api
    assert _app_endpoints(lite) == set(REQUIRED)
    assert all(p.startswith(API) for p in lite.client.get("/openapi.json").json()["paths"])


def _url(path: str) -> str:
    for name, value in PATH_VALUES.items():
        path = path.replace("{" + name + "}", value)
    return path


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_no_token_is_401(shared_api: Api, method: str, path: str) -> None:
    lite = shared_api
    r = lite.call(method, _url(path), None, json={})
    assert r.status_code == 401, (method, path, r.status_code)
    error_shape(r.json())
    assert r.headers["WWW-Authenticate"] == "Bearer"
    bad = lite.client.request(method, API + _url(path), json={},
                              headers={"Authorization": "Bearer prt_not-a-token"})
    assert bad.status_code == 401


@pytest.mark.parametrize("role", ["viewer", "operator", "admin"])
@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_role_matrix(shared_api: Api, method: str, path: str, role: str) -> None:
    lite = shared_api
    # a status-only body: the one change an operator may make to a provider or model
    body = {"status": "inactive"} if method == "PUT" else {}
    r = lite.call(method, _url(path), role, json=body)
    allowed = RANK[role] >= RANK[REQUIRED[(method, path)]]
    if allowed:
        assert r.status_code not in (401, 403), (method, path, role, r.json())
    else:
        assert r.status_code == 403, (method, path, role, r.status_code)
        error_shape(r.json())
        assert r.json()["error"]["details"]["required"] == REQUIRED[(method, path)]


def test_operators_enable_and_disable_but_do_not_edit(lite: Api) -> None:
    lite.post("/providers", PROVIDER)
    r = lite.put("/providers/acme", {"status": "inactive"}, "operator", if_match='"1"')
    assert r.status_code == 200 and r.json()["status"] == "inactive"
    r = lite.put("/providers/acme", {"api_endpoint": "https://evil.example"}, "operator",
                 if_match='"2"')
    assert r.status_code == 403
    r = lite.put("/providers/acme", {"api_key": "sk-new-key-0123456789"}, "operator",
                 if_match='"2"')
    assert r.status_code == 403
    assert lite.get("/providers/acme").json()["api_endpoint"] == PROVIDER["api_endpoint"]


def test_revoked_and_expired_tokens_stop_working(lite: Api) -> None:
    made = lite.post("/tokens", {"user": "ci-bot", "role": "viewer"}).json()
    bot = {"Authorization": f"Bearer {made['secret']}"}
    assert lite.client.get(API + "/providers", headers=bot).status_code == 200
    assert lite.delete(f"/tokens/{made['token_id']}", if_match=f'"{made["version"]}"'
                       ).status_code == 204
    assert lite.client.get(API + "/providers", headers=bot).status_code == 401


def test_a_token_in_the_query_string_is_refused(lite: Api) -> None:
    token = lite.tokens["admin"]
    for params in ({"token": token}, {"access_token": token}, {"api_key": "sk-x"},
                   {"q": token}):
        r = lite.client.get(API + "/providers", params=params)
        assert r.status_code == 400, params
        error_shape(r.json())
        assert r.json()["error"]["code"] == "secret_in_query"
        assert token not in r.text and "sk-x" not in r.text
    # even alongside a valid header: the query string is refused, not ignored
    r = lite.get("/providers", params={"token": token})
    assert r.status_code == 400
