"""The dashboard's second round in headless Chromium: reorder a chain by dragging, the
agents-by-models matrix edited inline, the budget burn-down and the health timeline."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from dash_support import Server

pytestmark = pytest.mark.standin


def _api(server: Server, role: str = "admin") -> httpx.Client:
    return httpx.Client(base_url=f"{server.url}/api/admin", timeout=30,
                        headers={"Authorization": f"Bearer {server.tokens[role]}"})


def _tiers_become(page: Any, server: Server, route: str, want: list[list[str]]) -> None:
    """Wait until the swapped-in chain shows ``want``, then check the API holds it too."""
    page.wait_for_function(
        "(want) => JSON.stringify([...document.querySelectorAll('#chain .tier:not(.new-tier)')]"
        ".map(t => [...t.querySelectorAll('.candidate code')].map(c => c.textContent)))"
        " === JSON.stringify(want)", arg=want)
    with _api(server) as api:
        assert api.get(f"/routes/{route}").json()["tiers"] == want


def test_an_operator_reorders_a_chain_by_dragging_candidates_and_tiers(
    seeded: Server, login: Any
) -> None:
    with _api(seeded) as api:
        r = api.post("/routes", json={"name": "dragged", "tiers": [
            ["standin:gpt-4o-mini", "standin:gpt-4o"]]})
        assert r.status_code == 201, r.text
    page = login("operator")
    page.goto(f"{seeded.url}/ui/routes/dragged")
    mini = "standin:gpt-4o-mini"
    big = "standin:gpt-4o"

    # within a tier: drop gpt-4o on gpt-4o-mini, so it is tried first
    page.drag_and_drop(f".candidate:has(code:text-is('{big}'))",
                       f".candidate:has(code:text-is('{mini}'))")
    _tiers_become(page, seeded, "dragged", [[big, mini]])

    # onto the "new last tier" zone: gpt-4o-mini becomes the fallback tier
    page.drag_and_drop(f".candidate:has(code:text-is('{mini}'))", ".new-tier")
    _tiers_become(page, seeded, "dragged", [[big], [mini]])

    # a whole tier, by its label: tier 2 onto tier 1
    page.drag_and_drop(".tier[data-tier='1'] .tier-label", ".tier[data-tier='0']")
    _tiers_become(page, seeded, "dragged", [[mini], [big]])
    page.get_by_text("Saved.").wait_for()
    verdict = page.locator("#explain-h + p").inner_text()
    assert verdict.endswith(f"{mini} → {big}")


def test_a_viewer_gets_nothing_to_drag(seeded: Server, login: Any) -> None:
    page = login("viewer")
    page.goto(f"{seeded.url}/ui/routes/support")
    page.locator("#chain .candidate").first.wait_for()
    assert page.locator("[draggable=true]").count() == 0
    assert page.locator(".new-tier").count() == 0


def test_an_operator_assigns_a_model_in_the_matrix_and_edits_parameters_inline(
    seeded: Server, login: Any
) -> None:
    page = login("operator")
    page.goto(f"{seeded.url}/ui/agents")
    page.get_by_role("button", name="Use standin:gpt-4o for summariser").click()
    page.get_by_text("summariser updated.").wait_for()
    row = page.locator(".matrix tbody tr", has=page.locator("th", has_text="summariser"))
    assert row.locator("td.cell-uses").inner_text().strip() == "uses"
    with _api(seeded) as api:
        agent = api.get("/agents/summariser").json()
    assert (agent["model"], agent["route"]) == ("standin:gpt-4o", None)

    form = page.get_by_role("form", name="Parameters of summariser")
    form.get_by_label("Temperature").fill("0.7")
    form.get_by_label("Max tokens").fill("800")
    form.get_by_role("button", name="Save parameters of summariser").click()
    page.get_by_role("form", name="Parameters of summariser").get_by_text("Saved.").wait_for()
    with _api(seeded) as api:
        assert api.get("/agents/summariser").json()["params"] == {"temperature": 0.7,
                                                                  "max_tokens": 800}
    # the page was not reloaded: the other row's typing is still there
    other = page.get_by_role("form", name="Parameters of support-bot")
    other.get_by_label("Top p").fill("0.5")
    form = page.get_by_role("form", name="Parameters of summariser")
    form.get_by_label("Temperature").fill("-1")
    form.get_by_role("button", name="Save parameters of summariser").click()
    page.get_by_role("form", name="Parameters of summariser").locator(".error").wait_for()
    assert other.get_by_label("Top p").input_value() == "0.5"
    page.screenshot(path=str(seeded.shots / "agents-matrix.png"), full_page=True)
