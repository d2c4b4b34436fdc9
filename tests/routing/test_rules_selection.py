"""Quality floors, model/provider status, per-provider defaults and the complexity
classifier: what a call is routed to, what is skipped and why, and the typed errors."""

from __future__ import annotations

import json
import logging
import math
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from polyroute import hookimpl
from polyroute.cli import main
from polyroute.errors import ConfigError, NoRouteError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.routing.complexity import builtin_complexity, load_classifier
from polyroute.testing.standin import StandinServer
from polyroute.types import ChatRequest, Message, ModelInfo, RoutingHints, ToolSpec

pytestmark = pytest.mark.standin


def config(server: StandinServer, **extra: Any) -> dict[str, Any]:
    return {
        "providers": {"p": {"type": "echo", "base_url": server.url},
                      "q": {"type": "echo", "base_url": server.url}},
        "models": {"p:top": {"quality": 80}, "p:mid": {"quality": 55},
                   "p:low": {"quality": 30, "default": True}},
        "agents": {"writer": {"model": "p:low", "fallbacks": ["p:mid", "p:top", "q:unrated"]}},
        "retry": {"attempts": 1},
        **extra,
    }


def ask(text: str = "hi", **hints: Any) -> ChatRequest:
    hints.setdefault("agent", "writer")
    return ChatRequest(messages=[Message.user(text)], routing=RoutingHints(**hints))


def used(router: Router, request: ChatRequest) -> list[str]:
    return [str(d) for tier in router.plan(request).tiers for d in tier]


def skipped(router: Router, request: ChatRequest) -> dict[str, str]:
    return {f"{o.provider}/{o.model}": o.reason for o in router.plan(request).skipped}


# --- min_quality -------------------------------------------------------------------


def test_min_quality_skips_lower_and_unknown_scores_with_the_reason(echo_registry, primary) -> None:  # type: ignore[no-untyped-def]
    with Router(config(primary), registry=echo_registry) as router:
        assert used(router, ask()) == ["p/low", "p/mid", "p/top", "q/unrated"]
        request = ask(min_quality=50)
        assert used(router, request) == ["p/mid", "p/top"]
        reasons = skipped(router, request)
        assert reasons["p/low"] == "quality 30 is below min_quality 50"
        assert reasons["q/unrated"].startswith("quality unknown, min_quality 50 cannot be checked")
        assert "models.q:unrated.quality" in reasons["q/unrated"]
        answer = router.chat(request)
        assert answer.model == "mid"


def test_an_agents_floor_applies_and_a_call_overrides_it(echo_registry, primary) -> None:  # type: ignore[no-untyped-def]
    cfg = config(primary)
    cfg["agents"]["writer"]["min_quality"] = 70
    with Router(cfg, registry=echo_registry) as router:
        assert used(router, ask()) == ["p/top"]
        assert used(router, ask(min_quality=0)) == ["p/low", "p/mid", "p/top"]


def test_no_candidate_good_enough_is_a_no_route_error_listing_each(echo_registry, primary) -> None:  # type: ignore[no-untyped-def]
    with Router(config(primary), registry=echo_registry) as router, \
            pytest.raises(NoRouteError) as err:
        router.chat(ask(min_quality=95))
    text = str(err.value)
    assert "quality 80 is below min_quality 95" in text and "q/unrated" in text


@pytest.mark.parametrize("floor", [-1, 101, math.nan, math.inf, 1e308])
def test_a_nonsense_floor_is_refused_not_ignored(echo_registry, primary, floor: float) -> None:  # type: ignore[no-untyped-def]
    with Router(config(primary), registry=echo_registry) as router, \
            pytest.raises(ConfigError) as err:
        _ = router.plan(ask(min_quality=floor)).tiers  # judged when read (lazy plans)
    assert err.value.field == "routing.min_quality"


@pytest.mark.parametrize("score", [-5, 100.5, "high"])
def test_a_quality_score_outside_0_to_100_is_a_config_error(echo_registry, primary, score) -> None:  # type: ignore[no-untyped-def]
    cfg = config(primary)
    cfg["models"]["p:top"] = {"quality": score}
    with pytest.raises(ConfigError) as err:
        Router(cfg, registry=echo_registry)
    assert "models" in (err.value.field or "") and "quality" in (err.value.field or "")


# --- status and defaults -------------------------------------------------------------


def test_inactive_models_and_providers_are_skipped_with_the_reason(echo_registry, primary) -> None:  # type: ignore[no-untyped-def]
    cfg = config(primary)
    cfg["models"]["p:low"]["status"] = "inactive"
    cfg["providers"]["q"]["status"] = "inactive"
    with Router(cfg, registry=echo_registry) as router:
        assert used(router, ask()) == ["p/mid", "p/top"]
        reasons = skipped(router, ask())
        assert reasons == {"p/low": "model p:low is inactive (status: inactive)",
                           "q/unrated": "provider q is inactive (status: inactive)"}
        assert router.chat(ask()).model == "mid"


def test_a_deprecated_model_is_used_noted_and_warned_about_once(  # type: ignore[no-untyped-def]
    echo_registry, primary, caplog: pytest.LogCaptureFixture,
) -> None:
    cfg = config(primary)
    cfg["models"]["p:low"]["status"] = "deprecated"
    with Router(cfg, registry=echo_registry) as router, \
            caplog.at_level(logging.WARNING, logger="polyroute"):
        for _ in range(3):
            assert router.chat(ask()).model == "low"
        plan = router.plan(ask())
    assert plan.notes[plan.tiers[0][0]] == "model p:low is deprecated"
    warnings = [r for r in caplog.records if "deprecated" in r.getMessage()]
    assert len(warnings) == 1 and "p:low" in warnings[0].getMessage()


def test_provider_default_resolves_and_at_most_one_is_allowed(echo_registry, primary) -> None:  # type: ignore[no-untyped-def]
    cfg = config(primary)
    cfg["agents"]["cheap"] = {"model": "p:default"}
    with Router(cfg, registry=echo_registry) as router:
        assert used(router, ask(agent="cheap")) == ["p/low"]
        assert router.config.default_models == {"p": "low"}
    cfg["models"]["p:top"]["default"] = True
    with pytest.raises(ConfigError, match="provider 'p' has two default models"):
        Router(cfg, registry=echo_registry)
    cfg = config(primary)
    cfg["agents"]["cheap"] = {"model": "q:default"}
    with pytest.raises(ConfigError, match="'q:default' asks for provider 'q''s default"):
        Router(cfg, registry=echo_registry)


def test_route_explain_shows_inactive_and_deprecated(  # type: ignore[no-untyped-def]
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cfg = config(primary)
    cfg["models"]["p:low"]["status"] = "inactive"
    cfg["models"]["p:mid"]["status"] = "deprecated"
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("POLYROUTE_CONFIG", raising=False)
    (tmp_path / "polyroute.yaml").write_text(json.dumps(cfg))
    out = CliRunner().invoke(main, ["route", "writer", "--explain", "--min-quality", "50"],
                             obj=echo_registry, catch_exceptions=False).stdout
    assert "model p:low is inactive (status: inactive)" in out
    assert "ok (model p:mid is deprecated)" in out
    assert "quality unknown" in out


# --- complexity ----------------------------------------------------------------------

EASY = "What is the capital of France?"
HARD = ("Analyze the trade-offs of this algorithm, then refactor it and prove it "
        "terminates:\n```python\ndef f(xs):\n    return sorted(xs)\n```\n") * 3


def test_the_builtin_heuristic_scores_easy_low_and_hard_high() -> None:
    easy = builtin_complexity(ChatRequest(messages=[Message.user(EASY)]))
    hard = builtin_complexity(ChatRequest(messages=[Message.user(HARD)], tools=[
        ToolSpec(name="run", parameters={"type": "object", "properties": {}})]))
    assert 0 <= easy < 0.3 <= 0.6 < hard <= 1
    huge = builtin_complexity(ChatRequest(messages=[Message.user("x " * 2_000_000)]))
    assert 0 <= huge <= 1


def test_easy_requests_go_to_the_cheaper_tier(echo_registry, primary) -> None:  # type: ignore[no-untyped-def]
    cfg = config(primary, routes={"cheap": {"tiers": [["p:low"]]}},
                 rules=[{"name": "easy", "when": "complexity < 0.3", "route": "cheap"}])
    cfg["agents"]["writer"] = {"model": "p:top"}
    with Router(cfg, registry=echo_registry) as router:
        assert router.chat(ask(EASY)).model == "low"
        assert router.chat(ask(HARD)).model == "top"


def test_a_named_classifier_is_used_and_checked(echo_registry, primary) -> None:  # type: ignore[no-untyped-def]
    rules = [{"name": "hard", "when": "complexity >= 0.5", "model": "p:top"}]
    cfg = config(primary, rules=rules, complexity_classifier="complexity_scorers:by_marker")
    with Router(cfg, registry=echo_registry) as router:
        assert used(router, ask("this is HARD")) == ["p/top"]
        assert used(router, ask("easy"))[0] == "p/low"
    cfg["complexity_classifier"] = "complexity_scorers:broken"
    with Router(cfg, registry=echo_registry) as router, pytest.raises(ConfigError) as err:
        router.plan(ask("x"))
    assert "returned nan" in str(err.value) and err.value.field == "complexity_classifier"


@pytest.mark.parametrize(("name", "says"), [
    ("no_colon", "neither 'builtin' nor module:function"),
    ("complexity_scorers:missing", "cannot be loaded"),
    ("no_such_module_xyz:f", "cannot be loaded"),
    ("complexity_scorers:not_callable", "is not callable"),
])
def test_a_bad_classifier_name_is_a_config_error(name: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        load_classifier(name)


class RatedCatalog:
    """A plugin whose catalog scores one echo model."""

    @hookimpl
    def polyroute_register_models(self, register: Any) -> None:
        register(ModelInfo(provider_type="echo", model="rated", quality=90))


def test_a_catalog_score_counts_and_models_overrides_it(primary) -> None:  # type: ignore[no-untyped-def]
    import echo_provider

    registry = PluginRegistry.create(load_entrypoints=False,
                                     plugins=[echo_provider, RatedCatalog()])
    cfg = config(primary)
    cfg["agents"]["writer"]["fallbacks"].append("p:rated")
    with Router(cfg, registry=registry) as router:
        assert used(router, ask(min_quality=85)) == ["p/rated"]
    cfg["models"]["p:rated"] = {"quality": 40}
    with Router(cfg, registry=registry) as router:
        assert "p/rated" not in used(router, ask(min_quality=85))


def test_a_status_only_override_keeps_the_catalog_entry(echo_registry, primary) -> None:  # type: ignore[no-untyped-def]
    cfg = config(primary)
    cfg["models"]["p:unknown"] = {"status": "deprecated"}
    with Router(cfg, registry=echo_registry) as router:
        from polyroute.routing.plan import Deployment

        assert router.model_info(Deployment("p", "unknown")) is None  # still unknown


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(max_size=300), min_size=1, max_size=8), st.booleans())
def test_the_builtin_score_is_always_within_0_and_1(texts: list[str], tools: bool) -> None:
    request = ChatRequest(
        messages=[Message.user(t) for t in texts],
        tools=[ToolSpec(name="f", parameters={"type": "object", "properties": {}})] if tools
        else [])
    score = builtin_complexity(request)
    assert 0 <= score <= 1 and math.isfinite(score)


def test_a_deprecated_provider_notes_each_of_its_models(echo_registry, primary) -> None:  # type: ignore[no-untyped-def]
    cfg = config(primary)
    cfg["providers"]["q"]["status"] = "deprecated"
    cfg["models"]["q:unrated"] = {"status": "inactive"}  # inactive beats deprecated
    cfg["agents"]["writer"]["fallbacks"].append("q:other")
    with Router(cfg, registry=echo_registry) as router:
        plan = router.plan(ask())
        from polyroute.routing.plan import Deployment

        assert plan.notes[Deployment("q", "other")] == "provider q is deprecated"
        reason = skipped(router, ask())["q/unrated"]
        assert reason == "model q:unrated is inactive (status: inactive)"
