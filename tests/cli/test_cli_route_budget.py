"""``route --explain`` shows what the budget guard will do (issue 9, item 4)."""

from __future__ import annotations

import json
from typing import Any


def test_route_explain_shows_the_budget_verdict(run: Any, write_config: Any) -> None:
    write_config({
        "providers": {"a": {"type": "echo"}},
        "agents": {"bot": {"model": "a/big"}},  # the CLI catalog: 8,000 max output
        "budgets": [{"scope": "agent:bot", "usd": 0.01, "per": "request"},
                    {"scope": "global", "usd": 5, "per": "day"}],
    })
    out = run("route", "bot", "--explain", env={"COLUMNS": "400"}).stdout
    assert "budget:" in out
    line = next(x for x in out.splitlines() if x.strip().startswith("a/big:"))
    assert "refused, agent:bot/request: worst case $0.0160 of $0.01 per call" in line
    assert "set max_tokens" in line and "8,000 output tokens" in line
    assert "ok, global/day: would reserve $0.0160 ($0.0000 spent, $0.0000 reserved" in line
    out = run("route", "bot", "--explain", "--max-tokens", "100",
              env={"COLUMNS": "400"}).stdout
    line = next(x for x in out.splitlines() if x.strip().startswith("a/big:"))
    assert "ok, agent:bot/request" in line and "refused" not in line
    data = run("route", "bot", "--json", "--max-cost", "0.001").stdout
    (cand,) = json.loads(data)["candidates"]
    assert cand["budget"].startswith("refused: budget 'request (max_cost)'")
