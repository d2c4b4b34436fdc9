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
