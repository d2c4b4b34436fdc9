"""Failover statistics from the router and the CLI; the reliability matrix, end to end."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from resilience_helpers import ask

from polyroute.cli import main
from polyroute.errors import NoRouteError

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "examples"))
from reliability_report import SCENARIOS, Outcome, markdown, run_matrix

from polyroute.testing.standin import Fault, StandinServer


def test_failover_counts_by_route_and_reason(
    make_router, primary: StandinServer, secondary: StandinServer, clock
) -> None:  # type: ignore[no-untyped-def]
    router = make_router(retry={"attempts": 1})
    primary.push(Fault.status(500), Fault.status(429, retry_after=9999))
    router.chat(ask())
    router.chat(ask())
    clock.advance(301)  # past the rate-limit cooldown that 429 started (capped at 300 s)
    primary.push(Fault.status(401))
    secondary.push(Fault.status(503))
    with pytest.raises(NoRouteError):
        router.chat(ask())
    stats = router.failover_stats()
    assert stats["total"] == 4
    assert stats["by_route"] == {"primary/m1 -> secondary/m2": 3, "secondary/m2 -> (none)": 1}
    assert stats["by_reason"] == {"server": 1, "rate_limit": 1, "auth": 1, "overloaded": 1}


def test_health_cli_json_and_table(tmp_path, echo_registry, primary: StandinServer) -> None:  # type: ignore[no-untyped-def]


    cfg = tmp_path / "p.yaml"
    cfg.write_text(f"providers: {{a: {{type: echo, base_url: '{primary.url}', rpm: 60}}}}\n"
                   "agents: {bot: {model: a/x}}\n")
    result = CliRunner().invoke(main, ["-c", str(cfg), "health", "--probe", "--json"],
                                obj=echo_registry)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    row = data["deployments"]["a/x"]
    assert row["requests"] == 1 and row["success_rate"] == 1.0
    assert row["rate_limit"]["rpm"] == 60 and data["failovers"]["total"] == 0
    result = CliRunner().invoke(main, ["-c", str(cfg), "health"], obj=echo_registry)
    assert result.exit_code == 0 and "a/x" in result.output and "circuit" in result.output


@pytest.fixture(scope="module")
def matrix() -> dict[str, Outcome]:
    return {o.scenario: o for o in run_matrix(workers=12)}


@pytest.mark.standin
@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_reliability_matrix_scenario(matrix: dict[str, Outcome], name: str) -> None:
    o = matrix[name]
    assert o.typed, o.note  # never an untyped exception
    assert o.ok, f"{name}: {o.note}"


def test_reliability_table_renders(matrix: dict[str, Outcome]) -> None:
    text = markdown(list(matrix.values()))
    assert text.count("\n") == len(SCENARIOS) + 1 and "FAIL" not in text
