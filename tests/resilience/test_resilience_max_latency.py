"""``max_latency_ms`` (issue 9, item 5): applied on the observed p95 latency from the
health tracker, or refused with a clear error — never silently ignored."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from resilience_helpers import ask

from polyroute.cli import main
from polyroute.errors import ConfigError, NoRouteError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.routing.plan import Deployment
from polyroute.testing.standin import StandinServer

SLOW, FAST = "primary/m1", "secondary/m2"


def observe(router: Router, key: str, ms: float, n: int = 10) -> None:
    """``n`` successful calls of ``ms`` each, as the passive health tracker saw them."""
    assert router.health is not None
    for _ in range(n):
        router.health.record(key, True, ms)


def test_a_deployment_slower_than_max_latency_ms_is_skipped_with_its_p95(
    make_router: Any, primary: StandinServer, secondary: StandinServer,
) -> None:
    router = make_router()
    observe(router, SLOW, 900)
    observe(router, FAST, 30)
    assert router.chat(ask()).provider == "primary"  # no constraint: config order
    resp = router.chat(ask(max_latency_ms=500))
    assert resp.provider == "secondary"
    assert [a.provider for a in resp.attempts] == ["secondary"]
    plan = router.plan(ask(max_latency_ms=500))
    (skip,) = plan.skipped
    assert (skip.provider, skip.model) == ("primary", "m1")
    assert "observed p95 latency" in skip.reason and "ms (last 11 calls)" in skip.reason
    assert skip.reason.endswith("exceeds max_latency_ms 500")
    assert router.chat(ask(max_latency_ms=5000)).provider == "primary"  # fits: kept


def test_too_few_observations_keep_the_deployment_and_say_so(
    make_router: Any, primary: StandinServer,
) -> None:
    router = make_router()
    observe(router, SLOW, 900, n=2)
    plan = router.plan(ask(max_latency_ms=100))
    assert plan.skipped == [] and plan.candidates[0] == Deployment("primary", "m1")
    assert plan.notes[Deployment("primary", "m1")] == (
        "max_latency_ms not judged: 2 recent successful calls, 5 needed")
    assert router.chat(ask(max_latency_ms=100)).provider == "primary"


def test_when_none_fits_the_error_says_so_and_what_to_do(
    make_router: Any, primary: StandinServer, secondary: StandinServer,
) -> None:
    router = make_router()
    observe(router, SLOW, 900)
    observe(router, FAST, 700)
    with pytest.raises(NoRouteError) as err:
        router.chat(ask(max_latency_ms=100))
    text = str(err.value)
    assert "none fits max_latency_ms=100 — raise it or drop it, or add a faster" in text
    assert "primary/m1 skipped: observed p95 latency" in text
    assert "secondary/m2 skipped: observed p95 latency" in text
    assert primary.requests == [] and secondary.requests == []


def test_with_health_off_max_latency_ms_is_refused_not_ignored(
    make_router: Any, primary: StandinServer,
) -> None:
    router = make_router(health={"enabled": False})
    with pytest.raises(ConfigError) as err:
        router.chat(ask(max_latency_ms=500))
    assert err.value.field == "health.enabled"
    assert "health tracking is off" in str(err.value) and "drop max_latency_ms" in str(err.value)
    assert primary.requests == []
    assert router.chat(ask()).provider == "primary"  # without the constraint: fine


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, -1.0, 0.0])
def test_a_max_latency_ms_that_is_not_a_positive_number_is_refused(
    make_router: Any, primary: StandinServer, value: float,
) -> None:
    router = make_router()
    with pytest.raises(ConfigError) as err:
        router.chat(ask(max_latency_ms=value))
    assert err.value.field == "routing.max_latency_ms"
    assert primary.requests == []


def test_routed_chat_model_applies_a_per_call_max_latency_ms(
    make_router: Any, primary: StandinServer, secondary: StandinServer,
) -> None:
    from polyroute.langchain import RoutedChatModel

    router = make_router()
    observe(router, SLOW, 900)
    observe(router, FAST, 30)
    llm = RoutedChatModel(router=router, agent="bot")
    assert llm.invoke("hello").response_metadata["polyroute"]["provider"] == "primary"
    msg = llm.invoke("hello", max_latency_ms=500)  # a per-call routing hint
    assert msg.response_metadata["polyroute"]["provider"] == "secondary"
    msg = llm.bind(max_latency_ms=500).invoke("hello")
    assert msg.response_metadata["polyroute"]["provider"] == "secondary"
    fixed = RoutedChatModel(router=router, agent="bot", max_latency_ms=500)  # a field
    assert fixed.invoke("hello").response_metadata["polyroute"]["provider"] == "secondary"
    assert fixed.invoke("hello", max_latency_ms=5000).response_metadata["polyroute"][
        "provider"] == "primary"  # the call's own value wins


def test_routed_llm_applies_a_max_latency_ms_field(
    make_router: Any, primary: StandinServer, secondary: StandinServer,
) -> None:
    from llama_index.core.llms import ChatMessage

    from polyroute.llamaindex import RoutedLLM

    router = make_router()
    observe(router, SLOW, 900)
    observe(router, FAST, 30)
    llm = RoutedLLM(router=router, agent="bot", max_latency_ms=500)
    out = llm.chat([ChatMessage(role="user", content="hello")])
    assert out.additional_kwargs["polyroute"]["provider"] == "secondary"


def test_route_explain_shows_the_latency_skip_and_the_unjudged_note(
    tmp_path: Path, echo_registry: PluginRegistry, primary: StandinServer,
    secondary: StandinServer,
) -> None:
    cfg = tmp_path / "p.yaml"
    cfg.write_text(
        f"providers: {{primary: {{type: echo, base_url: '{primary.url}'}},\n"
        f"            secondary: {{type: echo, base_url: '{secondary.url}'}}}}\n"
        "agents: {bot: {model: primary/m1, fallbacks: [secondary/m2]}}\n"
        "state: {backend: sqlite, path: state.db}\n"
    )
    with Router(cfg, registry=echo_registry) as router:  # another process's traffic
        observe(router, SLOW, 900)
    args = ["-c", str(cfg), "route", "bot", "--max-latency-ms", "500"]
    result = CliRunner().invoke(main, [*args, "--explain"], obj=echo_registry)
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "exceeds max_latency_ms 500" in out
    assert "max_latency_ms not judged: 0 recent successful calls, 5 needed" in out
    result = CliRunner().invoke(main, [*args, "--json"], obj=echo_registry)
    rows = {r["provider"]: r for r in json.loads(result.output)["candidates"]}
    assert rows["primary"]["status"] == "skipped"
    assert rows["secondary"]["status"] == "ok" and "not judged" in rows["secondary"]["note"]
