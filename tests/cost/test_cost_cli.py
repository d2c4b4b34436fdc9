"""``polyroute cost``, ``polyroute usage`` and ``polyroute cache`` from the command line."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from polyroute.cli import main
from polyroute.ledger import Ledger
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints


def openai_registry() -> PluginRegistry:
    plugin = pytest.importorskip("polyroute_openai.plugin")
    return PluginRegistry.create(load_entrypoints=False, plugins=[plugin])


def test_cost_prices_each_token_class() -> None:
    result = CliRunner().invoke(main, [
        "cost", "openai:o3", "--in", "10000", "--cached", "8000", "--out", "3000",
        "--reasoning", "2000", "--json"], obj=openai_registry())
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["source"] == "catalog"
    assert data["cost_usd"]["cache_read"] == pytest.approx(8000 * 0.5 / 1e6)
    assert data["cost_usd"]["total"] == pytest.approx((2000 * 2 + 8000 * 0.5 + 3000 * 8) / 1e6)
    table = CliRunner().invoke(main, ["cost", "openai:gpt-4.1", "--in", "1000", "--out", "100"],
                               obj=openai_registry())
    assert table.exit_code == 0 and "total: $0.002800" in table.output


def test_cost_of_an_unknown_model_is_never_zero(echo_registry: PluginRegistry) -> None:
    result = CliRunner().invoke(main, ["cost", "echo:mystery", "--in", "10"], obj=echo_registry)
    assert result.exit_code == 1
    assert "no known price for echo/mystery" in result.output
    assert "$0.0" not in result.output


@pytest.fixture
def project(echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
            tmp_path: Path) -> Path:
    """A config with a ledger and a cache, and some traffic in the ledger."""
    cfg = {
        "providers": {"a": {"type": "echo", "base_url": primary.url},
                      "b": {"type": "echo", "base_url": secondary.url}},
        "agents": {"bot": {"model": "a:m", "fallbacks": ["b:m"], "max_tokens": 10}},
        "pricing": {"overrides": {"a:m": {"input": 1000, "output": 2000},
                                  "b:m": {"input": 100, "output": 200}}},
        "budgets": [{"scope": "global", "usd": 1, "per": "day"}],
        "retry": {"attempts": 1},
        "ledger": {"path": "usage.db"},
        "cache": {"directory": "cache"},
    }
    path = tmp_path / "polyroute.yaml"
    path.write_text(yaml.safe_dump(cfg))
    with Router(str(path), registry=echo_registry) as router:
        for i in range(6):
            router.chat(ChatRequest(messages=[Message.user(f"q{i % 4}")],
                                    routing=RoutingHints(agent="bot")))
        primary.push(Fault.status(500))
        router.chat(ChatRequest(messages=[Message.user("fallback")],
                                routing=RoutingHints(agent="bot")))
        from polyroute.analytics import usage_stats

        usage_stats(router)  # flushes the ledger
    return path


def test_usage_table_json_and_csv(project: Path, echo_registry: PluginRegistry) -> None:
    run = CliRunner().invoke
    table = run(main, ["usage", "-c", str(project)], obj=echo_registry)
    assert table.exit_code == 0, table.output
    assert "Usage by model" in table.output and "a/m" in table.output and "b/m" in table.output
    assert "global/day" in table.output and "month-end forecast" in table.output
    data = json.loads(run(main, ["usage", "-c", str(project), "--by", "agent",
                                 "--format", "json"], obj=echo_registry).output)
    (bot,) = data["groups"]
    assert bot["key"] == "bot" and bot["requests"] == 7
    assert bot["cache_hit_rate"] == pytest.approx(2 / 7)
    assert bot["fallback_rate"] == pytest.approx(1 / 7)
    assert data["budgets"][0]["spent_usd"] == pytest.approx(data["total"]["cost_usd"])
    rows = list(csv.DictReader(io.StringIO(run(
        main, ["usage", "-c", str(project), "--by", "provider", "--format", "csv"],
        obj=echo_registry).output)))
    assert [r["provider"] for r in rows] == ["a", "b", "total"]
    assert int(rows[-1]["requests"]) == 7


def test_usage_plot(project: Path, echo_registry: PluginRegistry, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "usage.png"
    result = CliRunner().invoke(main, ["usage", "-c", str(project), "--plot", str(png)],
                                obj=echo_registry)
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_usage_recommend_explains_and_never_applies(tmp_path: Path,
                                                    echo_registry: PluginRegistry) -> None:
    db = tmp_path / "usage.db"
    ledger = Ledger(db)
    now = time.time()

    def row(i: int, model: str, cost: float, latency: float, status: str = "ok") -> tuple[Any, ...]:
        return (f"r{model}{i}", now - i * 600, "writer", None, "r", "openai", model, 100, 50,
                0, 0, 0, cost, None, 1, latency, None, status, None, 1, 0, 0, 0, None, None,
                None, None)

    for i in range(40):
        ledger.record(row(i, "gpt-4.1", 0.002, 900, "error" if i == 0 else "ok"))
    for i in range(25):
        ledger.record(row(i, "gpt-4.1-mini", 0.0004, 700))
    assert ledger.flush()
    result = CliRunner().invoke(main, ["usage", "--ledger", str(db), "--recommend",
                                       "--format", "json"], obj=echo_registry)
    assert result.exit_code == 0, result.output
    (rec,) = json.loads(result.output)["recommendations"]
    assert (rec["agent"], rec["current"], rec["suggested"]) == (
        "writer", "openai:gpt-4.1", "openai:gpt-4.1-mini")
    assert rec["monthly_saving_usd"] > 0 and "Not applied" in rec["why"]


def test_usage_without_a_ledger_says_how_to_get_one(echo_registry: PluginRegistry,
                                                    tmp_path: Path) -> None:
    cfg = tmp_path / "p.yaml"
    cfg.write_text("providers: {}\n")
    result = CliRunner().invoke(main, ["usage", "-c", str(cfg)], obj=echo_registry)
    assert result.exit_code == 2 and "ledger: {}" in result.output


def test_cache_stats_and_clear(project: Path, echo_registry: PluginRegistry) -> None:
    run = CliRunner().invoke
    stats = json.loads(run(main, ["cache", "stats", "-c", str(project), "--json"],
                           obj=echo_registry).output)
    assert stats["entries"] == 5 and stats["namespaces"] == {"default": 5}
    table = run(main, ["cache", "stats", "-c", str(project)], obj=echo_registry)
    assert "entries" in table.output and "namespace default" in table.output
    cleared = run(main, ["cache", "clear", "-c", str(project), "--namespace", "default", "-y"],
                  obj=echo_registry)
    assert cleared.exit_code == 0 and "removed 5 cache entries" in cleared.output
    stats = json.loads(run(main, ["cache", "stats", "-c", str(project), "--json"],
                           obj=echo_registry).output)
    assert stats["entries"] == 0
