"""The usage ledger: rows per call and per attempt, failures, durability, retention, stats."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from polyroute.analytics import usage_stats
from polyroute.analytics.alerts import Alert, Alerts, WebhookSink, alerts_for
from polyroute.errors import NoRouteError
from polyroute.ledger import Ledger, connect_ledger
from polyroute.ledger.store import CALL_COLUMNS
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints

SUPPORT = Path(__file__).resolve().parents[1] / "support"


def make_router(registry: PluginRegistry, primary: str, secondary: str, db: Path,
                **extra: Any) -> Router:
    return Router({
        "providers": {"a": {"type": "echo", "base_url": primary},
                      "b": {"type": "echo", "base_url": secondary}},
        "agents": {"bot": {"model": "a:m", "fallbacks": ["b:m"], "tags": {"team": "x"}}},
        "pricing": {"overrides": {"a:m": {"input": 1, "output": 2}, "b:m": {"input": 1,
                                                                          "output": 2}}},
        "retry": {"attempts": 2, "initial_backoff": 0},
        "ledger": {"path": str(db), **extra.pop("ledger", {})},
        **extra,
    }, registry=registry)


def ask(text: str = "hi", **tags: str) -> ChatRequest:
    return ChatRequest(messages=[Message.user(text)], routing=RoutingHints(agent="bot", tags=tags))


def rows(db: Path, table: str = "calls") -> list[dict[str, Any]]:
    conn = connect_ledger(db, create=False)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(f"SELECT * FROM {table} ORDER BY rowid")]
    finally:
        conn.close()


def flushed(router: Router) -> None:
    from polyroute.budgets.guard import CostGuard
    from polyroute.cost.wiring import find_guard

    guard = find_guard(router, CostGuard)
    assert isinstance(guard, CostGuard) and guard.ledger is not None
    assert guard.ledger.flush()


def test_one_row_per_call_and_per_attempt_failures_included(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    tmp_path: Path,
) -> None:
    db = tmp_path / "usage.db"
    with make_router(echo_registry, primary.url, secondary.url, db) as router:
        router.chat(ask(tenant="t1"))
        primary.push(Fault.status(500), Fault.status(500))
        router.chat(ask())
        primary.push(*[Fault.status(500)] * 2)
        secondary.push(*[Fault.status(401)] * 2)
        with pytest.raises(NoRouteError):
            router.chat(ask())
        list(router.stream(ask("stream me")))
        flushed(router)
    calls = rows(db)
    assert [c["status"] for c in calls] == ["ok", "ok", "error", "ok"]
    ok, fell_back, failed, streamed = calls
    assert (ok["provider"], ok["model"], ok["agent"], ok["route"]) == ("a", "m", "bot", "model:a:m")
    assert (ok["input_tokens"], ok["output_tokens"], ok["attempts"], ok["fallback"]) == (3, 3, 1, 0)
    assert ok["cost_usd"] == pytest.approx((3 * 1 + 3 * 2) / 1e6) and ok["price_known"] == 1
    assert json.loads(ok["tags"]) == {"team": "x", "tenant": "t1"} and ok["tenant"] == "t1"
    assert ok["prompt"] is None and ok["answer"] is None  # metadata only by default
    assert ok["ttft_ms"] is None and ok["stream"] == 0
    assert (fell_back["provider"], fell_back["attempts"], fell_back["fallback"]) == ("b", 3, 1)
    assert failed["error"] == "NoRouteError(AuthenticationError)" and failed["attempts"] == 3
    assert failed["cost_usd"] == 0.0 and failed["latency_ms"] > 0
    assert streamed["stream"] == 1 and 0 < streamed["ttft_ms"] <= streamed["latency_ms"]
    attempts = rows(db, "attempts")
    by_call = {c["id"]: [a for a in attempts if a["call_id"] == c["id"]] for c in calls}
    assert [(a["provider"], a["ok"], a["error"]) for a in by_call[fell_back["id"]]] == [
        ("a", 0, "ServerError"), ("a", 0, "ServerError"), ("b", 1, None)]
    assert [a["http_status"] for a in by_call[failed["id"]]] == [500, 500, 401]


def test_prompts_and_answers_only_when_enabled(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path
) -> None:
    db = tmp_path / "usage.db"
    with make_router(echo_registry, primary.url, primary.url, db,
                     ledger={"store_content": True}) as router:
        router.chat(ask("secret plans"))
        flushed(router)
    (row,) = rows(db)
    assert "secret plans" in row["prompt"] and row["answer"] == "primary says: secret plans"


CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, sys.argv[1])
    import echo_provider
    from polyroute.errors import NoRouteError
    from polyroute.plugins import PluginRegistry
    from polyroute.router import Router
    from polyroute.types import ChatRequest, Message, RoutingHints

    router = Router({
        "providers": {"a": {"type": "echo", "base_url": sys.argv[2]}},
        "agents": {"bot": {"model": "a:m"}},
        "retry": {"attempts": 1},
        "ledger": {"path": sys.argv[3]},
    }, registry=PluginRegistry.create(load_entrypoints=False, plugins=[echo_provider]))
    for i in range(int(sys.argv[4])):
        try:
            router.chat(ChatRequest(messages=[Message.user(f"call {i}")],
                                    routing=RoutingHints(agent="bot")))
        except NoRouteError:
            pass
    print("between calls", flush=True)
    time.sleep(60)  # killed here, before any close or atexit flush
""")


@pytest.mark.standin
def test_ledger_survives_a_killed_process(primary: StandinServer, tmp_path: Path) -> None:
    db = tmp_path / "usage.db"
    primary.push(Fault.status(400), Fault.status(500))  # two failed calls first
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(SUPPORT), primary.url, str(db), "12"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line.strip() == "between calls", child.stderr.read() if child.stderr else ""
        # "Between calls": the writer commits a call's rows moments after it ends. Wait
        # until another connection sees all 12 committed (no timing asserted), then kill.
        for _ in range(1000):
            if db.exists() and len(rows(db)) == 12:
                break
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    calls = rows(db)
    assert len(calls) == 12
    assert [c["status"] for c in calls[:2]] == ["error", "error"]
    assert {c["error"] for c in calls[:2]} == {"NoRouteError(BadRequestError)",
                                               "NoRouteError(ServerError)"}
    assert all(c["status"] == "ok" for c in calls[2:])
    assert all(c["cost_usd"] is None and c["price_known"] == 0 for c in calls[2:])  # unpriced


def test_retention_prunes_old_rows(tmp_path: Path) -> None:
    db = tmp_path / "usage.db"
    conn = connect_ledger(db)
    old = time.time() - 40 * 86400
    conn.execute("INSERT INTO calls (id, ts, status) VALUES ('old', ?, 'ok')", (old,))
    conn.execute("INSERT INTO attempts (call_id, n, ts) VALUES ('old', 1, ?)", (old,))
    conn.close()
    ledger = Ledger(db, retention_days=30)
    ledger.record(("new", time.time(), *[None] * (len(CALL_COLUMNS) - 2)))
    assert ledger.flush()
    ledger.close()
    assert [r["id"] for r in rows(db)] == ["new"]
    assert rows(db, "attempts") == []


def test_usage_stats_from_python(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    tmp_path: Path,
) -> None:
    db = tmp_path / "usage.db"
    budgets = [{"scope": "agent:bot", "usd": 1.0, "per": "month"}]
    with make_router(echo_registry, primary.url, secondary.url, db, budgets=budgets) as router:
        for i in range(8):
            router.chat(ask(f"q{i}"))
        primary.push(Fault.status(500), Fault.status(500))
        router.chat(ask("falls back"))
        report = usage_stats(router, by="provider")
    assert [g.key for g in report.groups] == ["a", "b"]
    t = report.total
    assert (t.requests, t.succeeded, t.failed) == (9, 9, 0)
    assert t.fallback_rate == pytest.approx(1 / 9)
    assert t.cost_usd == pytest.approx((8 * 9 + 3 + 4 * 2) / 1e6)  # the last answer has 4 words
    assert t.p50_ms is not None and t.p95_ms is not None and t.p95_ms >= t.p50_ms
    assert t.cost_per_success == pytest.approx(t.cost_usd / 9)
    assert t.tokens_per_usd == pytest.approx((t.input_tokens + t.output_tokens) / t.cost_usd)
    (use,) = report.budgets
    assert use.spent_usd == pytest.approx(t.cost_usd) and use.window.startswith("month:")
    assert report.month_to_date_usd == pytest.approx(t.cost_usd)
    assert report.forecast_month_usd >= report.month_to_date_usd
    assert report.daily and report.daily[0]["cost_by_provider"]["a"] > 0


def test_error_rate_degradation_alert(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    tmp_path: Path,
) -> None:
    with make_router(echo_registry, primary.url, secondary.url, tmp_path / "u.db",
                     alerts={"error_rate": 0.5, "window": 10, "min_calls": 4},
                     retry={"attempts": 1}) as router:
        got: list[Alert] = []
        alerts_for(router).add_sink(got.append)
        primary.push(*[Fault.status(500)] * 6)
        for _ in range(8):
            router.chat(ask())
    # the default breaker also opens after 5 straight failures, which alerts too
    assert sorted((a.kind, a.subject) for a in got) == [
        ("circuit_open", "a/m"), ("error_rate", "a/m")
    ]


def test_webhook_sink_posts_off_the_calling_thread() -> None:
    import threading

    seen: list[tuple[str, dict[str, Any], str]] = []
    sink = WebhookSink("https://hooks.example/x", post=lambda url, body: seen.append(
        (url, body, threading.current_thread().name)))
    bus = Alerts([sink])
    bus.emit(Alert.circuit_open("openai/gpt-4.1", reason="5 failures in 30 s"))
    sink.flush()
    ((url, body, thread),) = seen
    assert url == "https://hooks.example/x" and thread == "polyroute-alert-webhook"
    assert body["kind"] == "circuit_open" and body["severity"] == "critical"
    assert body["message"] == "circuit opened for openai/gpt-4.1: 5 failures in 30 s"


def test_ledger_waits_out_another_writer_instead_of_losing_rows(tmp_path: Path) -> None:
    db = tmp_path / "usage.db"
    connect_ledger(db).close()
    other = sqlite3.connect(str(db), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process mid-write holds the lock
    ledger = Ledger(db, retention_days=None)
    ledger.record(("held", time.time(), *[None] * (len(CALL_COLUMNS) - 2)))
    time.sleep(0.3)
    assert ledger.written == 0
    other.execute("COMMIT")
    other.close()
    assert ledger.flush()
    ledger.close()
    assert [r["id"] for r in rows(db)] == ["held"]


def test_unopenable_ledger_fails_the_router_not_a_call(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    tmp_path: Path,
) -> None:
    from polyroute.errors import ConfigError

    db = tmp_path / "a-directory.db"
    db.mkdir()
    with pytest.raises(ConfigError) as err:
        make_router(echo_registry, primary.url, secondary.url, db)
    assert err.value.field == "ledger.path"
    assert primary.requests == []  # nothing was called, nothing paid for
    assert str(db) in str(err.value) and "writable" in str(err.value)


def test_call_ids_grow_with_time_so_rows_append_to_the_ledgers_index(
        echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
        tmp_path: Path) -> None:
    from polyroute.call_ids import new_call_id

    ids = [new_call_id() for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 24 and int(i, 16) >= 0 for i in ids)
    now_ms = time.time_ns() // 1_000_000
    assert abs(int(ids[-1][:12], 16) - now_ms) < 60_000  # the first half is the time in ms
    assert [i[:12] for i in ids] == sorted(i[:12] for i in ids)
    db = tmp_path / "u.db"
    with make_router(echo_registry, primary.url, secondary.url, db) as router:
        answered = []
        for _ in range(3):
            answered.append(router.chat(ask()).call_id)
            time.sleep(0.002)
    assert answered == sorted(answered)  # each call's row lands after the last one's
    assert [r["id"] for r in sorted(rows(db), key=lambda r: r["ts"])] == answered


def test_call_ids_stay_unique_across_threads_and_a_forked_worker() -> None:
    """The random half is read from os.urandom in blocks: threads must not share a
    slice of it, and a forked worker must not repeat its parent's bytes (two workers
    writing one PostgreSQL ledger would collide)."""
    import subprocess
    import sys
    import threading

    from polyroute.call_ids import new_call_id

    got: list[list[str]] = [[] for _ in range(8)]

    def make(out: list[str]) -> None:
        out.extend(new_call_id() for _ in range(5_000))

    threads = [threading.Thread(target=make, args=(out,)) for out in got]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = [i for out in got for i in out]
    assert len(set(ids)) == len(ids) == 40_000
    # a clean interpreter (no other thread holds a lock across the fork)
    script = (
        "import os, sys\n"
        "from polyroute.call_ids import new_call_id\n"
        "new_call_id()\n"  # the parent has a block of random bytes before the fork
        "r, w = os.pipe()\n"
        "pid = os.fork()\n"
        "ids = ' '.join(new_call_id()[12:] for _ in range(50))\n"
        "if pid == 0:\n"
        "    os.write(w, ids.encode()); os._exit(0)\n"
        "os.close(w); os.waitpid(pid, 0)\n"
        "child = os.read(r, 100000).decode().split()\n"
        "print(len(set(child) & set(ids.split())), len(child))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, check=True).stdout.split()
    assert out == ["0", "50"]
