"""Providers and models through the REST API, on SQLite and PostgreSQL: CRUD, ETag and
If-Match (two admins editing one provider), pagination, filters, the error shape."""

from __future__ import annotations

from admin_api_support import PROVIDER, Api, error_shape


def create(api: Api, **fields: object) -> dict:  # type: ignore[type-arg]
    r = api.post("/providers", {**PROVIDER, **fields})
    assert r.status_code == 201, r.json()
    return r.json()  # type: ignore[no-any-return]


def test_provider_crud_with_etags(api: Api) -> None:
    body = create(api)
    assert body["id"] == "acme" and body["version"] == 1
    assert body["credential"] == {"set": True, "masked": "****wxyz"}
    assert "api_key" not in body

    r = api.get("/providers/acme")
    assert r.status_code == 200 and r.headers["ETag"] == '"1"'

    r = api.put("/providers/acme", {"description": "the Acme one"}, if_match='"1"')
    assert r.status_code == 200, r.json()
    assert r.json()["description"] == "the Acme one" and r.headers["ETag"] == '"2"'

    r = api.get("/providers", params={"status": "active"})
    assert [p["id"] for p in r.json()["items"]] == ["acme"]

    r = api.delete("/providers/acme", if_match='"2"')
    assert r.status_code == 204
    r = api.get("/providers/acme")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    error_shape(r.json())


def test_two_admins_editing_one_provider(api: Api) -> None:
    create(api)
    etag = api.get("/providers/acme").headers["ETag"]
    first = api.put("/providers/acme", {"description": "alice's"}, if_match=etag)
    assert first.status_code == 200
    second = api.put("/providers/acme", {"description": "bob's"}, if_match=etag)
    assert second.status_code == 412, second.json()
    error_shape(second.json())
    assert second.json()["error"]["code"] == "version_conflict"
    assert second.json()["error"]["details"] == {"currentVersion": 2, "sentVersion": 1}
    assert api.get("/providers/acme").json()["description"] == "alice's"


def test_changes_without_if_match_are_refused_with_428(api: Api) -> None:
    create(api)
    for r in (api.put("/providers/acme", {"description": "x"}), api.delete("/providers/acme")):
        assert r.status_code == 428, r.json()
        error_shape(r.json())
        assert r.json()["error"]["field"] == "If-Match"
    r = api.put("/providers/acme", {"description": "x"}, if_match="*")
    assert r.status_code == 412
    assert api.get("/providers/acme").json()["version"] == 1


def test_models_are_rows_with_their_own_etags(api: Api) -> None:
    create(api)
    a = api.post("/providers/acme/models", {"name": "acme-large", "context_length": 128000,
                                            "is_default": True,
                                            "pricing_info": {"input": 2.0, "output": 8.0}})
    assert a.status_code == 201, a.json()
    b = api.post("/providers/acme/models", {"name": "acme-small", "status": "deprecated"})
    assert b.status_code == 201
    mid = a.json()["id"]
    listed = api.get("/providers/acme/models").json()
    assert [m["name"] for m in listed["items"]] == ["acme-large", "acme-small"]
    only = api.get("/providers/acme/models", params={"status": "deprecated"}).json()
    assert [m["name"] for m in only["items"]] == ["acme-small"]

    r = api.put(f"/models/{mid}", {"context_length": 200000}, if_match='"1"')
    assert r.status_code == 200 and r.json()["context_length"] == 200000
    assert r.headers["ETag"] == '"2"'
    assert api.put(f"/models/{mid}", {"status": "inactive"}, if_match='"1"').status_code == 412
    dup = api.post("/providers/acme/models", {"name": "acme-small"})
    assert dup.status_code == 409 and dup.json()["error"]["code"] == "conflict"
    assert api.delete(f"/models/{mid}", if_match='"2"').status_code == 204
    assert api.get(f"/models/{mid}").status_code == 404


def test_pagination_has_a_maximum_and_a_next_offset(lite: Api) -> None:
    for i in range(5):
        assert lite.post("/providers", {"identifier": f"p{i}", "provider_type": "openai",
                                        "api_endpoint": "https://api.example.com/v1"}
                         ).status_code == 201
    page = lite.get("/providers", params={"limit": 2}).json()
    assert [p["id"] for p in page["items"]] == ["p0", "p1"]
    assert (page["total"], page["next_offset"]) == (5, 2)
    last = lite.get("/providers", params={"limit": 2, "offset": 4}).json()
    assert [p["id"] for p in last["items"]] == ["p4"] and last["next_offset"] is None
    r = lite.get("/providers", params={"limit": 10_000})
    assert r.status_code == 422
    error_shape(r.json())
    assert r.json()["error"]["field"] == "limit"


def test_validation_errors_name_the_field_and_a_fix(lite: Api) -> None:
    r = lite.post("/providers", {"identifier": "acme", "provider_type": "openai",
                                 "auth_method": "carrier-pigeon"})
    assert r.status_code == 422
    error_shape(r.json())
    assert r.json()["error"]["field"] == "auth_method"
    assert r.json()["error"]["suggestions"]
    r = lite.post("/providers", {"identifier": "acme", "provider_type": "openai",
                                 "settings": {"rpm": -3}})
    assert r.status_code == 422 and "rpm" in r.json()["error"]["field"]
    r = lite.post("/providers", {"identifier": "acme", "provder_type": "openai"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "provder_type"


def test_request_id_is_echoed_and_errors_carry_it(lite: Api) -> None:
    r = lite.get("/providers/nope", headers={"X-Request-ID": "req-42"})
    assert r.status_code == 404
    assert r.headers["X-Request-ID"] == "req-42" and r.json()["requestId"] == "req-42"
    r = lite.get("/providers")
    assert len(r.headers["X-Request-ID"]) >= 16
    r = lite.client.get("/api/admin/no-such-thing")
    assert r.status_code == 404
    error_shape(r.json())


def test_the_request_id_lands_in_the_audit_row(lite: Api) -> None:
    lite.post("/providers", PROVIDER, headers={"X-Request-ID": "change-7"})
    rows = lite.get("/audit", params={"target_type": "provider"}).json()["items"]
    assert rows[-1]["request_id"] == "change-7" and rows[-1]["actor"] == "admin-user"


def test_system_entries_are_read_only(lite: Api) -> None:
    lite.reg.create("provider", {"identifier": "filed", "name": "filed", "provider_type":
                                 "openai", "origin": "polyroute.yaml"}, actor="t", system=True)
    body = lite.get("/providers/filed").json()
    assert body["is_system"] and body["origin"] == "polyroute.yaml"
    r = lite.put("/providers/filed", {"description": "x"}, if_match='"1"')
    assert r.status_code == 409 and r.json()["error"]["code"] == "read_only_entry"
    assert [p["id"] for p in lite.get("/providers", params={"system": True}).json()["items"]
            ] == ["filed"]


def test_registry_status_and_refresh(lite: Api) -> None:
    status = lite.get("/providers/registry-status").json()
    assert status["providers"] == 0 and status["revision"]
    r = lite.post("/providers/refresh-registry")
    assert r.status_code == 200, r.json()
    assert r.json()["created"] >= 1  # the openai plugin's templates
    status = lite.get("/providers/registry-status").json()
    assert status["system_templates"] == r.json()["created"]
    assert status["last_refresh"] is not None


def test_a_new_key_moves_the_version_on(api: Api) -> None:
    create(api)
    r = api.put("/providers/acme", {"api_key": "sk-new-key-0123456789-NEWK"}, if_match='"1"')
    assert r.status_code == 200, r.json()
    assert r.json()["version"] == 2 and r.json()["credential"]["masked"] == "****NEWK"
    late = api.put("/providers/acme", {"api_key": "sk-other-key-0123456789-OTHR"},
                   if_match='"1"')
    assert late.status_code == 412
    assert api.reg.reveal_credential("provider:acme") == "sk-new-key-0123456789-NEWK"
