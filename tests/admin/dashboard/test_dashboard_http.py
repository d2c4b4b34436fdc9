"""The dashboard over HTTP, without a browser: sign-in, the session cookie, CSRF, roles,
secrets never shown, CSV export, and the chain edits."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import select

from polyroute.admin import KeyRing, Registry, sync_system_entries, upgrade_to_head
from polyroute.admin.api import AdminSettings, create_app
from polyroute.admin.dashboard.forms import Form
from polyroute.admin.dashboard.pages_config import _edit
from polyroute.admin.dashboard.pages_reports import _cell
from polyroute.admin.dashboard.session import DashSession
from polyroute.admin.models import ApiToken, User
from polyroute.plugins import PluginRegistry
from polyroute_openai import plugin as openai_plugin

KEY = "sk-http-secret-4242"


@pytest.fixture
def reg(tmp_path: Path) -> Iterator[Registry]:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    upgrade_to_head(url)
    r = Registry(url)
    r.keyring = KeyRing([Fernet.generate_key().decode()])
    sync_system_entries(r, None, plugins=PluginRegistry.create(load_entrypoints=False,
                                                               plugins=[openai_plugin]))
    yield r
    r.close()


@pytest.fixture
def tokens(reg: Registry) -> dict[str, str]:
    out = {}
    for role in ("admin", "operator", "viewer"):
        reg.create("user", {"name": f"{role}-user", "role": role}, actor="test")
        out[role] = reg.create_token(f"{role}-user", actor="test")[1]
    return out


@pytest.fixture
def client(reg: Registry) -> Iterator[Callable[[], TestClient]]:
    made: list[TestClient] = []
    settings = AdminSettings(plugins=PluginRegistry.create(load_entrypoints=False,
                                                           plugins=[openai_plugin]),
                             keyring=reg.keyring, allow_private_endpoints=False,
                             resolver=lambda host, port: ["93.184.215.14"])  # never the network
    app = create_app(registry=reg, settings=settings)

    def make() -> TestClient:
        c = TestClient(app, raise_server_exceptions=False)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def login_csrf(c: TestClient) -> str:
    """The sign-in page's one-time value (its cookie is now in ``c``)."""
    match = re.search(r'name="login_csrf" value="([^"]+)"', c.get("/ui/login").text)
    assert match is not None
    return match.group(1)


def signed_in(make: Callable[[], TestClient], token: str) -> tuple[TestClient, str]:
    c = make()
    r = c.post("/ui/login", data={"token": token, "login_csrf": login_csrf(c)},
               follow_redirects=False)
    assert r.status_code == 303
    page = c.get("/ui/").text
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match is not None
    return c, match.group(1)


def test_sign_in_sets_a_strict_httponly_session_cookie_that_holds_no_token(
    client: Callable[[], TestClient], tokens: dict[str, str]
) -> None:
    c = client()
    assert c.get("/ui/models", follow_redirects=False).headers["location"] == "/ui/login"
    bad = c.post("/ui/login", data={"token": "prt_not-a-token", "login_csrf": login_csrf(c)})
    assert bad.status_code == 401 and "unknown, expired or revoked" in bad.text
    ok = c.post("/ui/login", data={"token": tokens["viewer"], "login_csrf": login_csrf(c)},
                follow_redirects=False)
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/ui" in cookie
    assert tokens["viewer"] not in cookie
    assert c.get("/ui/").status_code == 200


def test_sign_in_without_the_sign_in_pages_one_time_value_is_refused(
    client: Callable[[], TestClient], tokens: dict[str, str]
) -> None:
    # login CSRF: another site's form signing the victim in under the attacker's token
    c = client()
    no_value = c.post("/ui/login", data={"token": tokens["viewer"]}, follow_redirects=False)
    assert no_value.status_code == 403 and "login CSRF check failed" in no_value.text
    value = login_csrf(c)
    other = client()  # a browser that never loaded the sign-in page has no matching cookie
    forged = other.post("/ui/login", data={"token": tokens["viewer"], "login_csrf": value},
                        follow_redirects=False)
    assert forged.status_code == 403
    assert other.get("/ui/", follow_redirects=False).headers["location"] == "/ui/login"
    assert tokens["viewer"] not in no_value.text + forged.text


@pytest.mark.parametrize("header", [
    {"Origin": "https://evil.example"}, {"Origin": "null"},
    {"Referer": "https://evil.example/page"},
])
def test_a_post_from_another_origin_is_refused_sign_in_included(
    client: Callable[[], TestClient], tokens: dict[str, str], reg: Registry,
    header: dict[str, str],
) -> None:
    c = client()
    value = login_csrf(c)
    r = c.post("/ui/login", data={"token": tokens["admin"], "login_csrf": value},
               headers=header, follow_redirects=False)
    assert r.status_code == 403 and "another site" in r.text
    assert "evil.example" in r.text or "null" in r.text
    c, csrf = signed_in(client, tokens["admin"])
    # a name no random token on the page can hold by chance ("b1" once matched a CSRF token)
    r = c.post("/ui/budgets", data={"csrf": csrf, "name": "forgedbudget", "usd": "5"},
               headers=header, follow_redirects=False)
    assert r.status_code == 403
    assert "forgedbudget" not in c.get("/ui/budgets").text


def test_a_post_from_the_servers_own_origin_goes_through(
    client: Callable[[], TestClient], tokens: dict[str, str]
) -> None:
    c = client()
    value = login_csrf(c)
    r = c.post("/ui/login", data={"token": tokens["admin"], "login_csrf": value},
               headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert r.status_code == 303
    csrf = re.search(r'name="csrf" value="([^"]+)"', c.get("/ui/").text)
    assert csrf is not None
    r = c.post("/ui/budgets", data={"csrf": csrf.group(1), "name": "ownbudget", "usd": "5"},
               headers={"Referer": "http://testserver/ui/budgets"}, follow_redirects=False)
    assert r.status_code == 303
    assert "ownbudget" in c.get("/ui/budgets").text
    # behind a reverse proxy that rewrites Host: the forwarded host is the browser's
    r = c.post("/ui/budgets", data={"csrf": csrf.group(1), "name": "b3", "usd": "5"},
               headers={"Origin": "https://polyroute.example.org",
                        "X-Forwarded-Host": "polyroute.example.org"}, follow_redirects=False)
    assert r.status_code == 303


def test_sign_out_and_a_revoked_token_end_the_session(
    client: Callable[[], TestClient], tokens: dict[str, str], reg: Registry
) -> None:
    c, csrf = signed_in(client, tokens["viewer"])
    c.post("/ui/logout", data={"csrf": csrf})
    assert c.get("/ui/", follow_redirects=False).status_code == 303

    c, _ = signed_in(client, tokens["operator"])
    with reg.reading() as s:
        token_id, version = s.execute(select(ApiToken.token_id, ApiToken.version).join(User)
                                      .where(User.name == "operator-user")).one()
    reg.revoke_token(token_id, version=version, actor="test")
    assert c.get("/ui/", follow_redirects=False).headers["location"] == "/ui/login"


def test_a_change_without_the_sessions_csrf_token_is_refused_and_nothing_changes(
    client: Callable[[], TestClient], tokens: dict[str, str], reg: Registry
) -> None:
    c, _ = signed_in(client, tokens["admin"])
    r = c.post("/ui/routes", data={"name": "r1", "strategy": "priority"})
    assert r.status_code == 403 and "CSRF" in r.text
    r = c.post("/ui/routes", data={"csrf": "forged", "name": "r1"})
    assert r.status_code == 403
    assert reg.list("route") == []


def test_the_wizard_never_shows_the_key_back_and_the_api_error_names_the_field(
    client: Callable[[], TestClient], tokens: dict[str, str]
) -> None:
    c, csrf = signed_in(client, tokens["admin"])
    # no private endpoints on this server: the API refuses loopback, next to the field
    r = c.post("/ui/providers/new/vllm", data={
        "csrf": csrf, "identifier": "mine", "api_endpoint": "http://127.0.0.1:9/v1",
        "api_key": KEY})
    assert r.status_code == 422
    err = re.search(r'id="err-api_endpoint"[^>]*>([^<]+)<', r.text)
    assert err is not None and "loopback" in err.group(1)
    assert KEY not in r.text  # not even in the re-rendered form
    r = c.post("/ui/providers/new/vllm", data={
        "csrf": csrf, "identifier": "mine", "api_endpoint": "https://api.example.com/v1",
        "api_key": KEY}, follow_redirects=False)
    assert r.headers["location"] == "/ui/providers/mine/setup?template=vllm"
    assert "****4242" in c.get("/ui/providers/mine/setup").text
    for path in ("/ui/", "/ui/audit", "/ui/models", "/ui/providers/mine/setup"):
        assert KEY not in c.get(path).text


def test_roles_decide_what_is_offered_and_the_api_refuses_the_rest(
    client: Callable[[], TestClient], tokens: dict[str, str], reg: Registry
) -> None:
    reg.create("provider", {"identifier": "p1", "name": "p1", "provider_type": "openai",
                            "api_endpoint": "https://api.openai.com/v1"}, actor="test")
    op, csrf = signed_in(client, tokens["operator"])
    page = op.get("/ui/").text
    assert ">Disable<" in page and ">Test<" in page
    assert "Delete provider" not in page and "Add provider" not in page
    version = reg.get("provider", "p1").version
    r = op.post("/ui/providers/p1/delete", data={"csrf": csrf, "confirm": "p1",
                                                 "version": str(version)},
                headers={"HX-Request": "true"})
    assert "may not do this" in r.text.replace("&#39;", "'")
    assert reg.get("provider", "p1").identifier == "p1"
    viewer, _ = signed_in(client, tokens["viewer"])
    assert viewer.get("/ui/audit").text.count("needs the operator or admin role") == 1
    assert viewer.get("/ui/providers/new", follow_redirects=False).status_code == 303


def test_usage_csv_has_a_header_and_neutralises_formulas(
    client: Callable[[], TestClient], tokens: dict[str, str]
) -> None:
    c, _ = signed_in(client, tokens["viewer"])
    r = c.get("/ui/usage.csv?since=7d&by=agent")
    assert r.headers["content-type"].startswith("text/csv")
    assert r.text.splitlines()[0].startswith("agent,requests,")
    assert _cell("=HYPERLINK(\"x\")") == "'=HYPERLINK(\"x\")"
    assert _cell("@SUM(A1)") == "'@SUM(A1)" and _cell(3) == 3 and _cell(None) == ""


@pytest.mark.parametrize(("op", "tier", "index", "want"), [
    ("left", 0, 1, [["b", "a"], ["c"]]),
    ("right", 0, 0, [["b", "a"], ["c"]]),
    ("down", 0, 0, [["b"], ["c", "a"]]),
    ("up", 1, 0, [["a", "b", "c"]]),
    ("remove", 1, 0, [["a", "b"]]),
    ("tier-down", 0, 0, [["c"], ["a", "b"]]),
    ("tier-up", 0, 0, [["a", "b"], ["c"]]),  # the first tier cannot go up: unchanged
    ("left", 5, 0, [["a", "b"], ["c"]]),     # out of range: unchanged
])
def test_chain_edits(op: str, tier: int, index: int, want: list[list[str]]) -> None:
    assert _edit([["a", "b"], ["c"]], op, tier, index, "") == want


def test_adding_to_one_past_the_last_tier_makes_a_new_tier() -> None:
    assert _edit([["a"]], "add", 1, 0, "b") == [["a"], ["b"]]
    assert _edit([["a"]], "add", 0, 0, "b") == [["a", "b"]]


def test_sessions_and_forms_never_print_a_secret() -> None:
    s = DashSession(sid="sid-1", token=KEY, csrf="c-1", user="u", role="viewer", expires=0.0)
    assert KEY not in repr(s) and "sid-1" not in repr(s) and "c-1" not in repr(s)
    assert KEY not in repr(Form({"api_key": [KEY]}))


def test_agents_are_assigned_a_model_or_a_route_with_their_parameters(
    client: Callable[[], TestClient], tokens: dict[str, str], reg: Registry
) -> None:
    reg.create("provider", {"identifier": "p1", "name": "p1", "provider_type": "openai",
                            "api_endpoint": "https://api.openai.com/v1"}, actor="test")
    reg.add_model("p1", {"name": "m1"}, actor="test")
    reg.create("route", {"name": "main", "tiers": [["p1:m1"]]}, actor="test")
    c, csrf = signed_in(client, tokens["operator"])
    r = c.post("/ui/agents", data={"csrf": csrf, "name": "bot", "target": "p1:m1",
                                   "temperature": "0.2", "max_tokens": ""})
    assert r.status_code == 200  # redirected to the page
    a = reg.get("agent", "bot")
    assert (a.model, a.route, a.params) == ("p1:m1", None, {"temperature": 0.2})
    r = c.post("/ui/agents", data={"csrf": csrf, "name": "bot", "existing": "1",
                                   "version": str(a.version), "target": "route:main",
                                   "temperature": "hot", "max_tokens": "100"})
    assert r.status_code == 422 and "temperature" in r.text  # the API's error, shown
    r = c.post("/ui/agents", data={"csrf": csrf, "name": "bot", "existing": "1",
                                   "version": str(a.version), "target": "route:main",
                                   "temperature": "", "max_tokens": "100"})
    a = reg.get("agent", "bot")
    assert (a.model, a.route, a.params) == (None, "main", {"max_tokens": 100})
    viewer, _ = signed_in(client, tokens["viewer"])
    assert "Save bot" not in viewer.get("/ui/agents").text


def test_an_admin_edits_a_provider_and_rotates_its_key_without_seeing_it(
    client: Callable[[], TestClient], tokens: dict[str, str], reg: Registry
) -> None:
    reg.create("provider", {"identifier": "p1", "name": "p1", "provider_type": "openai",
                            "api_endpoint": "https://api.openai.com/v1"}, actor="test")
    c, csrf = signed_in(client, tokens["admin"])
    version = reg.get("provider", "p1").version
    r = c.post("/ui/providers/p1/edit", headers={"HX-Request": "true"}, data={
        "csrf": csrf, "version": str(version), "name": "Primary", "description": "",
        "api_endpoint": "https://api.openai.com/v1", "api_key": KEY})
    assert "Saved p1." in r.text and "****4242" in r.text and KEY not in r.text
    assert reg.get("provider", "p1").name == "Primary"
    # the same form again, on the version it was rendered from: a conflict, not an overwrite
    r = c.post("/ui/providers/p1/edit", headers={"HX-Request": "true"}, data={
        "csrf": csrf, "version": str(version), "name": "Stale"})
    assert reg.get("provider", "p1").name == "Primary" and 'role="alert"' in r.text


def test_a_custom_template_is_created_previewed_and_applied_with_its_models(
    client: Callable[[], TestClient], tokens: dict[str, str], reg: Registry
) -> None:
    c, csrf = signed_in(client, tokens["admin"])
    r = c.post("/ui/templates", data={"csrf": csrf, "identifier": "bad id", "models": ""})
    assert r.status_code == 422 and "refused this template" in r.text
    r = c.post("/ui/templates", data={
        "csrf": csrf, "identifier": "team-gw", "name": "Team gateway",
        "provider_type": "openai", "api_endpoint": "https://gw.example.com/v1",
        "models": "gpt-4o-mini\ngpt-4o"})
    assert r.status_code == 200 and "Team gateway" in r.text and "gw.example.com" in r.text
    form = c.get("/ui/providers/new/team-gw").text
    assert 'value="https://gw.example.com/v1"' in form
    r = c.post("/ui/providers/new/team-gw", data={
        "csrf": csrf, "identifier": "gw", "api_endpoint": "https://gw.example.com/v1",
        "api_key": KEY}, follow_redirects=False)
    assert r.headers["location"] == "/ui/providers/gw/setup?template=team-gw"
    setup = c.get("/ui/providers/gw/setup?template=team-gw").text
    assert 'value="gpt-4o-mini" checked' in setup and 'value="gpt-4o" checked' in setup
    c.post("/ui/providers/gw/setup", data={"csrf": csrf, "model": ["gpt-4o-mini", "gpt-4o"],
                                           "activate": "1"})
    row = reg.get("provider", "gw")
    assert (row.provider_type, row.status) == ("openai", "active")
    assert sorted(m.name for m in reg.list("model")) == ["gpt-4o", "gpt-4o-mini"]


def test_a_provider_card_shows_its_worst_circuit_and_lowest_health_score() -> None:
    from polyroute.admin.dashboard.pages_core import _health_by_provider

    got = _health_by_provider({"deployments": {
        "a/m1": {"circuit": {"state": "closed", "why": None}, "score": 0.9},
        "a/m2": {"circuit": {"state": "open", "why": "3 server errors"}, "score": 0.2},
        "b/m": {"circuit": None, "score": None},
    }})
    assert got == {"a": {"circuit": "open", "score": 0.2},
                   "b": {"circuit": "closed", "score": None}}


@pytest.mark.parametrize(("op", "at", "to", "want"), [
    ("move", (0, 1), (0, 0), [["b", "a"], ["c"]]),      # dropped on the first: tried first
    ("move", (0, 0), (0, 2), [["b", "a"], ["c"]]),      # dropped past the end of its tier
    ("move", (0, 0), (1, 0), [["b"], ["a", "c"]]),      # onto another tier
    ("move", (1, 0), (2, 0), [["a", "b"], ["c"]]),      # its tier empties: a new last tier
    ("move", (1, 0), (0, 0), [["c", "a", "b"]]),        # an emptied tier disappears
    ("move-tier", (1, 0), (0, 0), [["c"], ["a", "b"]]),
    ("move", (5, 0), (0, 0), [["a", "b"], ["c"]]),      # out of range: unchanged
    ("move-tier", (0, 0), (7, 0), [["a", "b"], ["c"]]),
])
def test_a_dragged_candidate_or_tier_lands_where_it_was_dropped(
    op: str, at: tuple[int, int], to: tuple[int, int], want: list[list[str]]
) -> None:
    assert _edit([["a", "b"], ["c"]], op, at[0], at[1], "", to) == want


def test_the_agent_matrix_assigns_in_place_and_a_stale_row_is_refused_not_overwritten(
    client: Callable[[], TestClient], tokens: dict[str, str], reg: Registry
) -> None:
    reg.create("provider", {"identifier": "p1", "name": "p1", "provider_type": "openai",
                            "api_endpoint": "https://api.openai.com/v1"}, actor="test")
    for m in ("m1", "m2"):
        reg.add_model("p1", {"name": m}, actor="test")
    reg.create("route", {"name": "main", "tiers": [["p1:m2"], ["p1:m1"]]}, actor="test")
    reg.create("agent", {"name": "bot", "model": "p1:m1", "params": {"temperature": 0.5}},
               actor="test")
    c, csrf = signed_in(client, tokens["operator"])
    text = c.get("/ui/agents").text
    assert 'aria-label="Use route main for bot"' in text
    assert 'aria-label="Use p1:m1 for bot"' not in text  # it already uses it
    v = reg.get("agent", "bot").version
    hx = {"HX-Request": "true"}
    r = c.post("/ui/agents/bot/target", headers=hx,
               data={"csrf": csrf, "version": str(v), "target": "route:main"})
    assert r.status_code == 200 and "bot updated." in r.text
    a = reg.get("agent", "bot")
    assert (a.model, a.route) == (None, "main")
    # through its route the agent reaches both models, tier by tier
    assert "tier 1" in r.text and "tier 2" in r.text

    r = c.post("/ui/agents/bot/params", headers=hx,
               data={"csrf": csrf, "version": str(a.version), "temperature": "0.9",
                     "top_p": "", "max_tokens": "256"})
    assert r.status_code == 200 and "Saved." in r.text
    fresh = reg.get("agent", "bot")
    assert fresh.params == {"temperature": 0.9, "max_tokens": 256}
    # the same row again, on the version it was rendered from: refused, shown, not applied
    r = c.post("/ui/agents/bot/params", headers=hx,
               data={"csrf": csrf, "version": str(a.version), "temperature": "0.1"})
    assert 'role="alert"' in r.text and 'value="0.1"' in r.text and "Saved." not in r.text
    assert reg.get("agent", "bot").params == fresh.params
    # a bad value: the API's message next to the row, nothing saved
    r = c.post("/ui/agents/bot/params", headers=hx,
               data={"csrf": csrf, "version": str(fresh.version), "temperature": "hot"})
    assert "temperature" in r.text and 'role="alert"' in r.text
    assert reg.get("agent", "bot").params == fresh.params

    viewer, vcsrf = signed_in(client, tokens["viewer"])
    text = viewer.get("/ui/agents").text
    assert "Use route main" not in text and "Save parameters" not in text
    r = viewer.post("/ui/agents/bot/target", headers=hx,
                    data={"csrf": vcsrf, "target": "p1:m1"})
    assert "may not do this" in r.text and reg.get("agent", "bot").route == "main"


def test_the_burn_down_adds_up_the_month_and_forecasts_at_the_burn_rate() -> None:
    from datetime import date

    from polyroute.admin.dashboard.insights import burndown

    report = {"daily": [{"day": "2026-11-30", "cost_by_provider": {"a": 9.0}},
                        {"day": "2026-12-01", "cost_by_provider": {"a": 1.0, "b": 1.0}},
                        {"day": "2026-12-03", "cost_by_provider": {"a": 2.0}}],
              "burn_rate_usd_per_day": 1.5}
    budgets = [{"name": "g", "scope": "global", "per": "month", "usd": 20.0},
               {"name": "big", "scope": "global", "per": "month", "usd": 1000.0},
               {"name": "p", "scope": "provider:a", "per": "month", "usd": 1.0},
               {"name": "d", "scope": "global", "per": "day", "usd": 1.0}]
    b = burndown(report, budgets, date(2026, 12, 4))
    assert len(b["days"]) == 31 and b["month"] == "December 2026"
    assert b["actual"][:5] == [2.0, 2.0, 4.0, 4.0, None]  # November's spend is not counted
    assert b["forecast"][:3] == [None, None, None]
    assert b["forecast"][3] == 4.0 and b["forecast"][4] == 5.5
    assert b["forecast_end"] == 4.0 + 1.5 * 27
    assert b["limits"] == {"g": 20.0, "big": 1000.0}  # only global monthly ones
    assert b["exceeds"] == {"g": "2026-12-15", "big": None}  # 4 + 1.5 * 11 = 20.5


def test_the_health_timeline_marks_outages_and_degraded_windows() -> None:
    from polyroute.admin.dashboard.insights import timeline

    now = 100 * 60.0 + 30
    snap = {"p/m": {"history": [
        {"start": 99 * 60.0, "ok": 5, "errors": 0}, {"start": 98 * 60.0, "ok": 1, "errors": 4},
        {"start": 97 * 60.0, "ok": 3, "errors": 1}],
        "circuit": {"state": "open", "opened": 2, "open_for_s": 12.5, "why": "5 failures"}},
        "q/n": {"history": [], "circuit": None}}
    t = timeline(snap, 60.0, 5, now)
    first, quiet = t["rows"]
    assert [c["status"] for c in first["cells"]] == ["idle", "degraded", "outage", "ok", "idle"]
    assert (first["outages"], first["degraded"], first["busy"]) == (1, 1, 3)
    assert (first["circuit"], first["openings"], first["why"]) == ("open", 2, "5 failures")
    assert quiet["circuit"] == "closed" and quiet["busy"] == 0
    # a long history is drawn as at most 60 cells, each adding its windows up
    long = timeline({"p/m": {"history": [{"start": 0.0, "ok": 0, "errors": 3},
                                          {"start": 60.0, "ok": 2, "errors": 0}]}},
                    60.0, 600, 599 * 60.0)
    assert len(long["rows"][0]["cells"]) == 60 and long["span"] == 10
    assert long["rows"][0]["cells"][0]["status"] == "outage"  # 2 ok, 3 failed together


@pytest.mark.parametrize("page", ["/ui/", "/ui/models", "/ui/routes", "/ui/agents",
                                  "/ui/usage", "/ui/budgets", "/ui/health", "/ui/audit",
                                  "/ui/templates"])
def test_every_list_page_makes_at_most_three_api_calls(
    client: Callable[[], TestClient], tokens: dict[str, str], page: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Issue 18: an anchor's logs page makes 51 calls per page; ours make at most 3
    (each API call logs one line under the page request's own id)."""
    c, _ = signed_in(client, tokens["admin"])
    with caplog.at_level(logging.INFO, logger="polyroute.admin.api"):
        r = c.get(page)
    assert r.status_code == 200, page
    calls = [rec.getMessage() for rec in caplog.records
             if rec.name == "polyroute.admin.api" and " /api/admin/" in rec.getMessage()]
    assert 1 <= len(calls) <= 3, (page, calls)
