"""Experiments end to end on a stand-in: the variant answers and is recorded on the
answer, the ledger row and the plan; feedback is stored, checked and tenant-bound;
old ledgers gain the columns; ``usage --experiment`` and ``route --explain`` show it."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from polyroute.analytics.experiments import experiment_report, mean_interval, wilson_interval
from polyroute.cli import main
from polyroute.errors import ConfigError
from polyroute.ledger import connect_ledger
from polyroute.ledger.feedback import FeedbackError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.routing.experiments import sticky_variant
from polyroute.testing.standin import StandinServer
from polyroute.types import ChatRequest, GenerationParams, Message, RoutingHints

pytestmark = pytest.mark.standin


def ask(router: Router, user: str | None = None, **kw: Any) -> Any:
    tags = {"user": user} if user else {}
    tags.update(kw.pop("tags", {}))
    return router.chat(ChatRequest(messages=[Message.user("summarise")],
                                   routing=RoutingHints(agent="bot", tags=tags), **kw))


def user_for(router: Router, variant: str) -> str:
    cfg = router.config.experiments["summary"]
    return next(u for u in (f"u{i}" for i in range(1000))
                if sticky_variant("summary", cfg, u) == variant)


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_the_variant_answers_and_is_on_the_answer_the_ledger_and_the_plan(
        server: StandinServer, registry: PluginRegistry, tmp_path: Path, make_config: Any
) -> None:
    db = tmp_path / "u.db"
    with Router(make_config(server.url, db), registry=registry) as router:
        mini_user, control_user = user_for(router, "mini"), user_for(router, "control")
        mini = ask(router, mini_user)
        control = ask(router, control_user)
        again = ask(router, mini_user)
        plan = router.plan(router._assigned(ChatRequest(
            messages=[Message.user("x")], routing=RoutingHints(agent="bot",
                                                               tags={"user": mini_user}))))
    assert (mini.model, mini.experiment, mini.variant) == ("mini", "summary", "mini")
    assert (control.model, control.variant) == ("big", "control")
    assert again.variant == "mini"  # sticky
    sent = [r.json() for r in server.requests]
    assert [s["model"] for s in sent] == ["mini", "big", "mini"]
    assert sent[0]["temperature"] == 0.7 and sent[1]["temperature"] == 0.2  # variant params
    assert "experiment summary variant mini" in plan.description
    got = rows(db, "SELECT id, experiment, variant, model, agent FROM calls ORDER BY ts")
    assert [(r[1], r[2], r[3], r[4]) for r in got] == [
        ("summary", "mini", "mini", "bot"), ("summary", "control", "big", "bot"),
        ("summary", "mini", "mini", "bot")]
    assert [r[0] for r in got] == [mini.call_id, control.call_id, again.call_id]


def test_the_callers_own_params_win_over_the_variants(
        server: StandinServer, registry: PluginRegistry, make_config: Any) -> None:
    with Router(make_config(server.url, None), registry=registry) as router:
        ask(router, user_for(router, "mini"), params=GenerationParams(temperature=0.0))
    assert server.requests[0].json()["temperature"] == 0.0


def test_a_route_variant_replaces_the_agents_model(
        server: StandinServer, registry: PluginRegistry, make_config: Any, tmp_path: Path
) -> None:
    cfg = make_config(server.url, tmp_path / "u.db", variants={
        "control": {"weight": 1}, "long": {"weight": 1, "route": "long_context"}})
    with Router(cfg, registry=registry) as router:
        user = next(u for u in (f"u{i}" for i in range(100)) if sticky_variant(
            "summary", router.config.experiments["summary"], u) == "long")
        resp = ask(router, user)
    assert (resp.model, resp.variant) == ("long", "long")
    assert server.requests[0].json()["temperature"] == 0.2  # the agent's params still apply
    assert rows(tmp_path / "u.db", "SELECT route FROM calls") == [("long_context",)]


def test_feedback_is_stored_for_the_call_and_checked(
        server: StandinServer, registry: PluginRegistry, make_config: Any, tmp_path: Path
) -> None:
    db = tmp_path / "u.db"
    with Router(make_config(server.url, db), registry=registry) as router:
        resp = ask(router, "alice", tags={"tenant": "acme"})
        router.feedback(resp.call_id, score=0.8, label="accepted")
        router.feedback(resp.call_id, label="escalated", comment="second look", tenant="acme")
        for bad in (float("nan"), -0.1, 1.5, True, "0.5", float("inf")):
            with pytest.raises(FeedbackError, match="score must be a number in"):
                router.feedback(resp.call_id, score=bad)
        with pytest.raises(FeedbackError, match="needs a score or a label"):
            router.feedback(resp.call_id)
        with pytest.raises(FeedbackError, match="no call 'nope'"):
            router.feedback("nope", score=1.0)
        with pytest.raises(FeedbackError, match="call_id must be"):
            router.feedback(None, score=1.0)  # type: ignore[arg-type]
        with pytest.raises(FeedbackError, match="label must be a string of at most 500"):
            router.feedback(resp.call_id, label="x" * 501)
        # another tenant's call reads exactly like an unknown one
        with pytest.raises(FeedbackError, match=r"no call .* for tenant 'globex'"):
            router.feedback(resp.call_id, score=0.0, tenant="globex")
    assert rows(db, "SELECT call_id, score, label, comment FROM feedback ORDER BY rowid") == [
        (resp.call_id, 0.8, "accepted", None), (resp.call_id, None, "escalated", "second look")]


def test_feedback_without_a_ledger_is_a_config_error(
        server: StandinServer, registry: PluginRegistry, make_config: Any) -> None:
    with Router(make_config(server.url, None), registry=registry) as router:
        resp = ask(router, "bob")
        assert resp.call_id is None  # no ledger, no row to name
        with pytest.raises(ConfigError, match="ledger"):
            router.feedback("abc", score=1.0)


async def test_afeedback_and_bandit_counts_follow_feedback(
        server: StandinServer, registry: PluginRegistry, make_config: Any, tmp_path: Path
) -> None:
    import random

    cfg = make_config(server.url, tmp_path / "u.db", mode="bandit")
    with Router(cfg, registry=registry) as router:
        router.experiments._rng = random.Random(5)
        router.experiments._refresh_every = 10_000  # only feedback triggers a re-read
        for _ in range(40):
            resp = await router.achat(ChatRequest(messages=[Message.user("q")],
                                                  routing=RoutingHints(agent="bot")))
            await router.afeedback(resp.call_id, score=1.0 if resp.variant == "mini" else 0.0)
        picks = [ask(router).variant for _ in range(100)]
    assert picks.count("mini") > 85  # the well-rated variant now gets nearly all traffic


def test_an_older_ledger_file_gains_the_columns_in_place(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:  # the calls table as polyroute wrote it before
        conn.execute("CREATE TABLE calls (id TEXT PRIMARY KEY, ts REAL NOT NULL, agent, model, "
                     "status, tenant)")
        conn.execute("INSERT INTO calls (id, ts, agent, status) VALUES ('old', 1.0, 'a', 'ok')")
    conn2 = connect_ledger(db)
    conn2.close()
    conn3 = connect_ledger(db)  # a second open (another process) finds nothing to add
    cols = [r[1] for r in conn3.execute("PRAGMA table_info(calls)")]
    old = conn3.execute("SELECT id, experiment, variant FROM calls").fetchall()
    conn3.close()
    assert "experiment" in cols and "variant" in cols and old == [("old", None, None)]


def test_usage_experiment_table_json_and_plot(
        server: StandinServer, registry: PluginRegistry, make_config: Any, tmp_path: Path
) -> None:
    db = tmp_path / "u.db"
    cfg = make_config(server.url, db)
    with Router(cfg, registry=registry) as router:
        for i in range(30):
            resp = ask(router, f"user-{i}")
            router.feedback(resp.call_id, score=0.9 if resp.variant == "mini" else 0.4)
    cfg_file = tmp_path / "polyroute.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg))
    png = tmp_path / "exp.png"
    base = ["--config", str(cfg_file), "usage", "--experiment", "summary"]
    table = CliRunner().invoke(main, [*base, "--plot", str(png)], obj=registry)
    assert table.exit_code == 0, table.output
    assert "Experiment summary by variant" in table.output
    assert "control" in table.output and "mini" in table.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    as_json = CliRunner().invoke(main, [*base, "--format", "json"], obj=registry)
    data = json.loads(as_json.output)
    by = {v["variant"]: v for v in data["variants"]}
    assert by["mini"]["calls"] + by["control"]["calls"] == 30
    assert by["mini"]["feedback_mean"] == pytest.approx(0.9)
    assert by["control"]["feedback_mean"] == pytest.approx(0.4)
    assert by["mini"]["success_rate"] == 1.0 and by["mini"]["fallback_rate"] == 0.0
    assert by["mini"]["cost_usd"] < by["control"]["cost_usd"]  # cheaper model, same prompts
    missing = CliRunner().invoke(main, ["--config", str(cfg_file), "usage", "--experiment",
                                        "nope"], obj=registry)
    assert missing.exit_code == 2 and "no call in the ledger took part" in missing.output


def test_intervals_match_textbook_values() -> None:
    mean, low, high = mean_interval([0.2, 0.4, 0.6, 0.8])
    # mean 0.5, s = 0.2582, t(3) = 3.182: half-width 0.4108
    assert mean == pytest.approx(0.5) and low == pytest.approx(0.0892, abs=1e-4)
    assert high == pytest.approx(0.9108, abs=1e-4)
    assert mean_interval([0.7]) == (0.7, None, None)  # one score: no interval invented
    assert mean_interval([]) == (None, None, None)
    lo, hi = wilson_interval(8, 10)  # Wilson 95 %: (0.490, 0.943)
    assert lo == pytest.approx(0.4902, abs=1e-3) and hi == pytest.approx(0.9433, abs=1e-3)
    assert wilson_interval(0, 0) == (None, None)
    lo, hi = wilson_interval(10, 10)
    assert hi == 1.0 and 0.6 < lo < 0.75 and not math.isnan(lo)


def test_report_of_an_empty_experiment_has_no_variants(tmp_path: Path) -> None:
    connect_ledger(tmp_path / "u.db").close()
    assert experiment_report(tmp_path / "u.db", "none").variants == []


def test_route_explain_shows_the_experiment_and_variant(
        registry: PluginRegistry, make_config: Any, tmp_path: Path) -> None:
    cfg = make_config("http://127.0.0.1:9", None)
    cfg_file = tmp_path / "polyroute.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg))
    from polyroute.config import config_from_data

    user = next(u for u in (f"u{i}" for i in range(100)) if sticky_variant(
        "summary", config_from_data(cfg).experiments["summary"], u) == "mini")
    out = CliRunner().invoke(main, ["--config", str(cfg_file), "route", "bot", "--explain",
                                    "--tag", f"user={user}"], obj=registry)
    assert out.exit_code == 0, out.output
    assert "experiment: summary → variant mini (sticky (user))" in out.output
    assert "a/mini" in out.output
    js = CliRunner().invoke(main, ["--config", str(cfg_file), "route", "bot", "--json",
                                   "--tag", f"user={user}"], obj=registry)
    assert json.loads(js.output)["experiment"] == {"name": "summary", "variant": "mini",
                                                   "how": "sticky (user)"}
    bad = CliRunner().invoke(main, ["--config", str(cfg_file), "route", "bot", "--tag", "nokv"],
                             obj=registry)
    assert bad.exit_code == 2 and "KEY=VALUE" in bad.output


def test_a_cache_hit_keeps_its_variant_on_chat_and_stream(
        server: StandinServer, registry: PluginRegistry, make_config: Any, tmp_path: Path
) -> None:
    cfg = make_config(server.url, None)
    cfg["cache"] = {"directory": str(tmp_path / "cache"), "ttl": "1h"}
    with Router(cfg, registry=registry) as router:
        user = user_for(router, "mini")
        first = ask(router, user)
        hit = ask(router, user)
        streamed = list(router.stream(ChatRequest(
            messages=[Message.user("summarise")],
            routing=RoutingHints(agent="bot", tags={"user": user}))))
    assert not first.cache_hit and hit.cache_hit and streamed[-1].cache_hit
    assert (hit.variant, streamed[-1].variant) == ("mini", "mini")
    assert len(server.requests) == 1
