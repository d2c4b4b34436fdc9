"""Health: passive from traffic, bounded history, JSON export, score, active probes."""

from __future__ import annotations

import asyncio
import json

from resilience_helpers import FakeClock, ask

from polyroute.config.resilience import HealthConfig
from polyroute.resilience.health import HealthProber, HealthTracker
from polyroute.state import MemoryStore
from polyroute.testing.standin import Fault, StandinServer


def test_passive_health_from_traffic(make_router, primary: StandinServer, clock: FakeClock) -> None:  # type: ignore[no-untyped-def]
    router = make_router(retry={"attempts": 1})
    for _ in range(3):
        router.chat(ask())
    primary.push(Fault.status(500))
    router.chat(ask())
    list(router.stream(ask()))
    asyncio.run(router.achat(ask()))
    snap = router.health_snapshot()
    h = snap["primary/m1"]
    assert h["requests"] == 6 and h["error_rate"] == round(1 / 6, 4)
    assert h["latency_p50_ms"] is not None and h["latency_p95_ms"] >= h["latency_p50_ms"]
    assert h["ttft_ms"] is not None and h["in_flight"] == 0
    assert h["uptime"] == 1.0 and h["circuit"]["state"] == "closed"
    assert 0 < h["score"] <= 1
    assert snap["secondary/m2"]["requests"] == 1
    json.dumps(router.health_snapshot(history=True))  # exportable as JSON


def test_history_is_bounded_and_score_follows_errors(clock: FakeClock) -> None:
    h = HealthTracker(HealthConfig(window=10, history=3), MemoryStore(clock), clock=clock)
    for _ in range(5):
        h.record("a/m", True, 100.0)
    good = h.score("a/m")
    for _ in range(5):
        h.record("a/m", False, 0.0)
    assert h.score("a/m") < good
    snap = h.snapshot(history=True)["a/m"]
    assert snap["requests"] == 10 and snap["uptime"] == 1.0  # 5 ok >= 5 errors
    clock.advance(40)  # four windows on: nothing left of it
    h.record("a/m", True, 300.0)
    snap = h.snapshot(history=True)["a/m"]
    assert snap["requests"] == 1 and len(snap["history"]) == 1
    assert 200 <= snap["latency_p50_ms"] <= 350


def test_active_probe_records_health(make_router, primary: StandinServer) -> None:  # type: ignore[no-untyped-def]
    router = make_router()
    primary.push(Fault.status(500))
    results = HealthProber(router.context, 60).probe_once()
    assert results == {"primary/m1": False, "secondary/m2": True}
    assert router.health.snapshot()["primary/m1"]["error_rate"] == 1.0
    assert primary.requests[-1].json()["prompt"] == "ping"


def test_probes_are_off_by_default_and_run_on_a_thread(make_router) -> None:  # type: ignore[no-untyped-def]
    assert make_router().resilience.prober is None
    router = make_router(health={"probe_interval": 0.01})
    prober = router.resilience.prober
    assert prober is not None
    for _ in range(1000):  # up to 10 s on a loaded machine; usually the first few
        if router.health.snapshot().get("secondary/m2", {}).get("requests"):
            break
        import time

        time.sleep(0.01)
    router.close()
    assert router.resilience.prober is None
    assert router.health.snapshot()["secondary/m2"]["requests"] >= 1
