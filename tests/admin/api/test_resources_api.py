"""Templates (apply with customisations), routes, agents, budgets, tokens and the audit
log through the REST API, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from admin_api_support import API, PROVIDER, Api, error_shape


def test_templates_crud_and_apply_with_customisations(api: Api) -> None:
    r = api.post("/provider-templates", {
        "identifier": "acme-tpl", "description": "Acme's OpenAI-compatible API",
        "provider_config": {"provider_type": "openai",
                            "api_endpoint": "https://api.acme.example/v1",
                            "settings": {"rpm": 60}},
        "default_models": [{"name": "acme-large", "is_default": True},
                           {"name": "acme-small"}]})
    assert r.status_code == 201, r.json()
    assert r.headers["ETag"] == '"1"'
    r = api.put("/provider-templates/acme-tpl", {"description": "v2"}, if_match='"1"')
    assert r.status_code == 200 and r.json()["version"] == 2

    r = api.post("/provider-templates/acme-tpl/apply", {
        "identifier": "acme-eu", "name": "Acme EU", "api_key": "sk-eu-0123456789-KEYZ",
        "api_endpoint": "https://eu.api.acme.example/v1"})
    assert r.status_code == 201, r.json()
    made = r.json()
    assert (made["provider_type"], made["api_endpoint"], made["settings"]) == (
        "openai", "https://eu.api.acme.example/v1", {"rpm": 60})
    assert made["credential"]["masked"] == "****KEYZ"
    models = api.get("/providers/acme-eu/models").json()["items"]
    assert [(m["name"], m["is_default"]) for m in models] == [("acme-large", True),
                                                              ("acme-small", False)]
    r = api.post("/provider-templates/acme-tpl/apply", {"identifier": "bare",
                                                        "include_default_models": False})
    assert r.status_code == 201 and api.get("/providers/bare/models").json()["total"] == 0
    assert api.delete("/provider-templates/acme-tpl", if_match='"2"').status_code == 204
    assert api.get("/provider-templates").json()["total"] == 0
    bad = api.post("/provider-templates", {"identifier": "x", "provider_config": {"kind": 1}})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "provider_config"


def test_routes_agents_budgets(api: Api) -> None:
    api.post("/providers", PROVIDER)
    r = api.post("/routes", {"name": "main", "tiers": [["acme:big"], ["acme:small"]]},
                 role="operator")
    assert r.status_code == 201, r.json()
    assert r.json()["tiers"] == [["acme:big"], ["acme:small"]]
    r = api.put("/routes/main", {"tiers": [["acme:small"]]}, role="operator", if_match='"1"')
    assert r.status_code == 200 and r.json()["tiers"] == [["acme:small"]]
    assert api.post("/routes", {"name": "empty", "tiers": []}).status_code == 422

    r = api.post("/agents", {"name": "swe", "route": "main", "params": {"temperature": 0.2}},
                 role="operator")
    assert r.status_code == 201, r.json()
    both = api.post("/agents", {"name": "bad", "route": "main", "model": "acme:big"})
    assert both.status_code == 422
    error_shape(both.json())
    assert api.get("/agents", params={"route": "main"}).json()["total"] == 1
    assert api.get("/agents/swe", role="viewer").headers["ETag"] == '"1"'

    r = api.post("/budgets", {"name": "daily", "usd": 25.0, "per": "day"}, role="operator")
    assert r.status_code == 201, r.json()
    r = api.put("/budgets/daily", {"usd": 50.0}, role="operator", if_match='"1"')
    assert r.status_code == 200 and r.json()["usd"] == 50.0
    assert api.post("/budgets", {"name": "neg", "usd": -1}).status_code == 422
    assert api.delete("/budgets/daily", role="operator", if_match='"1"').status_code == 412
    assert api.delete("/budgets/daily", role="operator", if_match='"2"').status_code == 204
    assert api.delete("/agents/swe", role="operator", if_match='"1"').status_code == 204
    assert api.delete("/routes/main", role="operator", if_match='"2"').status_code == 204


def test_tokens_are_shown_once_and_listed_without_secrets(api: Api) -> None:
    r = api.post("/tokens", {"user": "dash", "role": "viewer", "expires_in_days": 30})
    assert r.status_code == 201, r.json()
    made = r.json()
    assert made["secret"].startswith("prt_") and made["expires_at"]
    listed = api.get("/tokens", params={"user": "dash"}).json()
    assert [t["token_id"] for t in listed["items"]] == [made["token_id"]]
    assert made["secret"] not in str(listed) and "secret" not in listed["items"][0]
    clash = api.post("/tokens", {"user": "dash", "role": "admin"})
    assert clash.status_code == 409
    error_shape(clash.json())


def test_audit_log_reads_filters_and_verifies(api: Api) -> None:
    api.post("/providers", PROVIDER)
    api.put("/providers/acme", {"status": "inactive"}, role="operator", if_match='"1"')
    rows = api.get("/audit", role="operator", params={"target_type": "provider"}).json()
    assert [(r["action"], r["actor"]) for r in rows["items"]] == [
        ("create", "admin-user"), ("update", "operator-user")]
    assert rows["items"][1]["before"]["status"] == "active"
    assert rows["items"][1]["after"]["status"] == "inactive"
    assert api.get("/audit/verify", role="operator").json()["ok"] is True


def test_usage_and_health_are_empty_without_a_config(api: Api) -> None:
    assert api.get("/usage", role="viewer").json() == {"configured": False, "ledger": None,
                                                       "report": None}
    assert api.get("/health", role="viewer").json()["configured"] is False


def test_usage_and_health_read_the_config(lite: Api, tmp_path: Path) -> None:
    cfg = tmp_path / "polyroute.yaml"
    cfg.write_text("providers:\n  o: {type: openai, api_key: env:NO_SUCH_KEY}\n"
                   "agents:\n  a: {model: 'o:gpt-4.1-mini'}\nledger: {path: usage.db}\n")
    lite.settings.config_path = str(cfg)
    usage = lite.get("/usage").json()
    assert usage["configured"] is True and usage["ledger"].endswith("usage.db")
    health = lite.get("/health").json()
    assert health["configured"] is True and isinstance(health["deployments"], dict)
    r = lite.client.get(API + "/usage", params={"since": "forever"},
                        headers=lite.headers("viewer"))
    assert r.status_code == 422 and r.json()["error"]["field"] == "since"


def test_apply_a_plugin_template_and_override_a_preset_credential(lite: Api) -> None:
    assert lite.post("/providers/refresh-registry").status_code == 200
    system = lite.get("/provider-templates", params={"system": True}).json()["items"]
    assert system and all(t["is_system"] for t in system)
    name = system[0]["id"]
    r = lite.post(f"/provider-templates/{name}/apply", {"identifier": "from-plugin",
                                                       "api_key": "sk-plugin-0123456789-PLUG"})
    assert r.status_code == 201, r.json()
    assert r.json()["template"] == name and r.json()["credential"]["masked"] == "****PLUG"
    edit = lite.put(f"/provider-templates/{name}", {"description": "x"},
                    if_match=f'"{system[0]["version"]}"')
    assert edit.status_code == 409 and edit.json()["error"]["code"] == "read_only_entry"

    lite.post("/provider-templates", {"identifier": "envy", "provider_config": {
        "provider_type": "openai", "auth_config": {"credential": "env:ENVY_KEY"}}})
    r = lite.post("/provider-templates/envy/apply", {"identifier": "envy1",
                                                    "api_key": "sk-envy-0123456789-ENVY"})
    assert r.status_code == 201, r.json()
    assert r.json()["auth_config"]["credential"] == "provider:envy1"
