"""The dashboard in headless Chromium: what an operator does, what a viewer cannot do, and
every page's accessibility (axe-core: no critical violations) and screenshot.

Screenshots go to a temp folder; ``UPDATE_SCREENSHOTS=1`` (``make screenshots``) writes
them to docs/img/dashboard/ instead.
"""

from __future__ import annotations

import html
from typing import Any

import httpx
import pytest
from dash_support import Server, axe_critical, call_route, live_router
from playwright.sync_api import expect

pytestmark = pytest.mark.standin


def _api(server: Server, role: str = "admin") -> httpx.Client:
    return httpx.Client(base_url=f"{server.url}/api/admin", timeout=30,
                        headers={"Authorization": f"Bearer {server.tokens[role]}"})


def test_add_a_provider_from_a_template_test_it_chain_it_call_it_and_see_the_usage(
    server: Server, login: Any
) -> None:
    live = live_router(server)  # a running router, built before any change below
    page = login("admin")
    page.get_by_role("link", name="Add provider").click()
    page.get_by_role("link", name="Use the vllm template").click()
    assert page.get_by_label("API endpoint").input_value() == "http://localhost:8000/v1"

    # live validation: the field's error appears next to it as soon as it changes
    page.get_by_label("API endpoint").fill("http://169.254.169.254/v1")
    page.get_by_label("API endpoint").press("Tab")
    endpoint_error = page.locator("#err-api_endpoint")
    endpoint_error.filter(has_text="metadata").wait_for()

    # a bad field on save: the API's own error, next to that field
    page.get_by_label("Identifier").fill("bad id!")
    page.get_by_label("API endpoint").fill(f"{server.standin.url}/v1")
    page.get_by_label("API endpoint").press("Tab")
    # what the operator sees before saving: both live checks answered (a message longer than
    # its reserved line moves the button; clicking mid-move missed it once under load)
    expect(endpoint_error).to_be_empty()
    expect(page.locator("#err-identifier")).not_to_be_empty()
    page.get_by_role("button", name="Save and continue").click()
    with _api(server) as api:
        refused = api.post("/provider-templates/vllm/apply", json={
            "identifier": "bad id!", "api_endpoint": f"{server.standin.url}/v1",
            "status": "testing", "include_default_models": False}).json()["error"]
    assert refused["field"] == "identifier"
    api_message = refused["details"]["problems"][0]["message"]
    # the save is a full page load; the old page's live check can show the same message
    # first, so wait for the re-rendered field (it alone carries aria-invalid)
    expect(page.get_by_label("Identifier")).to_have_attribute("aria-invalid", "true")
    assert page.locator("#err-identifier").inner_text() == api_message
    page.screenshot(path=str(server.shots / "add-provider-error.png"), full_page=True)

    page.get_by_label("Identifier").fill("local")
    page.get_by_label("API key").fill("sk-e2e-secret-5678")
    page.get_by_label("API key").press("Tab")
    expect(page.locator("#err-identifier")).to_be_empty()
    page.get_by_role("button", name="Save and continue").click()
    page.wait_for_url("**/ui/providers/local/setup?template=vllm")
    assert "sk-e2e-secret-5678" not in page.content()  # the credential is never shown back
    assert "****5678" in page.content()

    page.get_by_role("button", name="Test connectivity").click()
    page.get_by_text("Test passed").wait_for()

    page.get_by_label("Other model names, one per line").fill("gpt-4o-mini\ngpt-4o")
    page.get_by_role("button", name="Finish").click()
    page.wait_for_url(f"{server.url}/ui/")
    card = page.locator("#card-local")
    assert "active" in card.locator(".badge").first.inner_text()
    assert "passed" in card.inner_text()

    # a fallback chain: create, add a candidate in a new tier, reorder by keyboard
    page.get_by_role("link", name="Fallback chains").click()
    page.get_by_label("Name").fill("e2e")
    page.get_by_label("First candidate").select_option("local:gpt-4o-mini")
    page.get_by_role("button", name="Create route").click()
    page.wait_for_url("**/ui/routes/e2e")
    page.get_by_label("Add candidate").select_option("local:gpt-4o")
    page.get_by_label("to", exact=True).select_option(label="a new last tier")
    page.get_by_role("button", name="Add", exact=True).click()
    page.get_by_text("Saved.").wait_for()
    page.get_by_role("button", name="Move tier 2 up").focus()
    page.keyboard.press("Enter")
    page.locator("#explain-h").wait_for()
    page.wait_for_function(
        "() => document.querySelector('#chain .tier code').textContent === 'local:gpt-4o'")
    verdict = page.locator("#explain-h + p").inner_text()
    assert verdict.index("local:gpt-4o") < verdict.index("local:gpt-4o-mini")
    with _api(server) as api:
        assert api.get("/routes/e2e").json()["tiers"] == [["local:gpt-4o"],
                                                          ["local:gpt-4o-mini"]]

    # the running router picked the dashboard's changes up live and routes by the new chain
    assert call_route(live, "e2e") == [("local", "gpt-4o")]
    live.close()

    page.get_by_role("link", name="Usage and cost").click()
    page.get_by_label("Period").select_option("1h")
    page.get_by_label("Group by").select_option("provider")
    page.get_by_role("button", name="Show").click()
    row = page.locator("#usage-table tbody tr", has=page.locator("th", has_text="local"))
    assert row.locator("td").first.inner_text() == "1"


def test_a_viewer_sees_no_edit_controls_and_the_server_refuses_anyway(
    seeded: Server, login: Any
) -> None:
    page = login("viewer")
    card = page.locator("#card-standin")
    card.wait_for()
    for name in ("Test", "Enable", "Disable", "Delete provider"):
        assert page.get_by_role("button", name=name, exact=True).count() == 0
    assert page.get_by_role("link", name="Add provider").count() == 0

    page.goto(f"{seeded.url}/ui/routes/support")
    assert page.get_by_role("button", name="Remove standin:gpt-4o").count() == 0
    assert page.get_by_label("Add candidate").count() == 0
    assert page.get_by_label("Name").count() == 0

    # a forged request with the viewer's own session and CSRF token: the API says no
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    before = seeded.reg.get("provider", "standin")
    answer = page.request.post(f"{seeded.url}/ui/providers/standin/status",
                               form={"csrf": csrf or "", "status": "inactive",
                                     "version": str(before.version)},
                               headers={"HX-Request": "true"})
    assert "the role 'viewer' may not do this" in html.unescape(answer.text())
    assert seeded.reg.get("provider", "standin").status == before.status

    # and without the session's CSRF token, nothing is even tried
    forged = page.request.post(f"{seeded.url}/ui/providers/standin/test", form={})
    assert forged.status == 403


PAGES = [
    ("providers", "/ui/"),
    ("add-provider", "/ui/providers/new"),
    ("add-provider-form", "/ui/providers/new/vllm"),
    ("add-provider-setup", "/ui/providers/standin/setup"),
    ("models", "/ui/models?in_per_call=2000&out_per_call=500&calls=5000"),
    ("routes", "/ui/routes"),
    ("fallback-chain", "/ui/routes/support"),
    ("agents", "/ui/agents"),
    ("usage", "/ui/usage?since=30d&by=model"),
    ("budgets", "/ui/budgets"),
    ("health", "/ui/health"),
    ("audit", "/ui/audit"),
    ("templates", "/ui/templates"),
]


def test_every_page_has_no_critical_accessibility_violation_and_is_screenshotted(
    seeded: Server, login: Any, browser: Any
) -> None:
    problems: dict[str, Any] = {}
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        anon = ctx.new_page()
        anon.goto(f"{seeded.url}/ui/login")
        problems["login"] = axe_critical(anon)
        anon.screenshot(path=str(seeded.shots / "login.png"), full_page=True)
    finally:
        ctx.close()
    page = login("admin")
    for name, path in PAGES:
        page.goto(f"{seeded.url}{path}")
        page.wait_for_load_state("load")
        assert page.locator("h1").count() == 1, name
        found = axe_critical(page)
        if found:
            problems[name] = found
        page.screenshot(path=str(seeded.shots / f"{name}.png"), full_page=True)
    viewer = login("viewer")
    problems["providers-viewer"] = axe_critical(viewer)
    viewer.screenshot(path=str(seeded.shots / "providers-viewer.png"), full_page=True)
    assert {k: v for k, v in problems.items() if v} == {}
