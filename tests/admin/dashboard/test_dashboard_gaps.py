"""The dashboard's second round in headless Chromium: reorder a chain by dragging, the
agents-by-models matrix edited inline, the budget burn-down and the health timeline."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from dash_support import Server, axe_critical

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
    assert axe_critical(page) == []
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
    assert axe_critical(page) == []
    page.screenshot(path=str(seeded.shots / "agents-matrix.png"), full_page=True)


def test_the_health_timeline_shows_outages_and_the_open_circuit(
    seeded: Server, login: Any
) -> None:
    import time

    from polyroute.config import load_config
    from polyroute.config.resilience import BreakerConfig, HealthConfig
    from polyroute.resilience.breaker import CircuitBreaker
    from polyroute.resilience.health import HealthTracker
    from polyroute.state import state_from_config

    # what routers sharing the server's state store recorded over the last quarter hour
    store = state_from_config(load_config(seeded.config_path))
    now = time.time()
    at = [now]
    tracker = HealthTracker(HealthConfig(), store, clock=lambda: at[0])
    key = "standin/gpt-4o"
    for minutes_ago, ok, failed in ((14, 3, 0), (12, 1, 4), (11, 0, 6), (6, 2, 1), (1, 4, 0)):
        at[0] = now - minutes_ago * 60
        for _ in range(ok):
            tracker.record(key, True, 250.0)
        for _ in range(failed):
            tracker.record(key, False, 900.0)
    breaker = CircuitBreaker(BreakerConfig(), store)
    for _ in range(5):
        breaker.record(key, ok=False, error="ServerError")
    assert breaker.info(key)["state"] == "open"

    page = login("viewer")
    page.goto(f"{seeded.url}/ui/health")
    row = page.locator("#timeline tbody tr", has=page.locator(f"th > code:text-is('{key}')"))
    strip = row.locator(".strip")
    assert strip.get_attribute("aria-label") == (
        f"{key}: 2 outage and 1 degraded window(s) of 5 with calls")
    assert row.locator(".cell.outage").count() == 2
    assert row.locator("td").last.inner_text().startswith("open")
    # the deployment the seeded calls went through: all its windows succeeded
    mini = page.locator("#timeline tbody tr",
                        has=page.locator("th > code:text-is('standin/gpt-4o-mini')"))
    assert mini.locator(".cell.ok").count() >= 1 and mini.locator(".cell.outage").count() == 0
    assert axe_critical(page) == []
    page.screenshot(path=str(seeded.shots / "health-timeline.png"), full_page=True)


def test_the_budgets_page_draws_the_month_burn_down_with_its_forecast(
    seeded: Server, login: Any
) -> None:
    page = login("viewer")
    page.goto(f"{seeded.url}/ui/budgets")
    summary = page.locator("#burn-summary").inner_text()
    assert "so far" in summary and "month ends near" in summary
    assert "Budget monthly ($0.6000)" in summary
    page.locator("#chart-burn canvas").wait_for()  # uPlot drew it
    legend = page.locator("#chart-burn .u-legend").inner_text()
    assert "spent" in legend and "forecast" in legend and "budget monthly" in legend
    assert axe_critical(page) == []
