"""Conditional routing rules: ordered, first match wins, explained; a call naming a
model is not re-routed; tenants, prompt size, capabilities, time of day, parameters
and complexity each decide as configured."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from polyroute.cli import main
from polyroute.errors import ConfigError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.testing.standin import StandinServer
from polyroute.types import ChatRequest, GenerationParams, Message, RoutingHints, ToolSpec

pytestmark = pytest.mark.standin

LONG = "lorem ipsum dolor sit amet " * 12_000  # ~320k characters: far over 50k tokens


def config(cheap: StandinServer, strong: StandinServer, rules: list[dict[str, Any]],
           **extra: Any) -> dict[str, Any]:
    return {
        "providers": {"cheap": {"type": "echo", "base_url": cheap.url},
                      "strong": {"type": "echo", "base_url": strong.url}},
        "routes": {"budget": {"tiers": [["cheap:small"]]},
                   "premium": {"tiers": [["strong:big"], ["cheap:small"]], "temperature": 0.7},
                   "long_context": {"tiers": [["strong:long"]]}},
        "agents": {"helper": {"route": "premium", "temperature": 0.1,
                              "tags": {"team": "support"}}},
        "rules": rules,
        "retry": {"attempts": 1},
        **extra,
    }


def ask(text: str = "hi", *, agent: str | None = "helper", tags: dict[str, str] | None = None,
        model: str | None = None, **kwargs: Any) -> ChatRequest:
    return ChatRequest(messages=[Message.user(text)], routing=RoutingHints(
        agent=agent, model=model, tags=tags or {}), **kwargs)


TENANT_RULES = [
    {"name": "free-tier", "when": "tenant == free", "route": "budget"},
    {"name": "long-prompts", "when": "prompt_tokens > 50k", "route": "long_context"},
]


def test_free_tenant_goes_to_the_cheap_route(echo_registry, primary, secondary) -> None:  # type: ignore[no-untyped-def]
    with Router(config(primary, secondary, TENANT_RULES), registry=echo_registry) as router:
        free = router.chat(ask(tags={"tenant": "free"}))
        paying = router.chat(ask(tags={"tenant": "acme"}))
    assert (free.provider, free.model) == ("cheap", "small")
    assert free.message.text.startswith("primary says")
    assert (paying.provider, paying.model) == ("strong", "big")  # the agent's own route


def test_first_match_wins_in_config_order(echo_registry, primary, secondary) -> None:  # type: ignore[no-untyped-def]
    with Router(config(primary, secondary, TENANT_RULES), registry=echo_registry) as router:
        plan = router.plan(ask(LONG, tags={"tenant": "free"}))  # both rules hold
        assert plan.description.startswith("rule free-tier → route budget")
        plan = router.plan(ask(LONG, tags={"tenant": "acme"}))
        assert plan.description.startswith("rule long-prompts → route long_context")
        assert [str(d) for t in plan.tiers for d in t] == ["strong/long"]


def test_agent_params_and_tags_stay_when_a_rule_reroutes(echo_registry, primary, secondary) -> None:  # type: ignore[no-untyped-def]
    rules = [{"name": "support", "when": "tag.team == support", "route": "premium"}]
    cfg = config(primary, secondary, rules)
    cfg["agents"]["helper"] = {"model": "cheap:small", "temperature": 0.1,
                               "tags": {"team": "support"}}
    with Router(cfg, registry=echo_registry) as router:
        plan = router.plan(ask())
        assert [str(d) for t in plan.tiers for d in t] == ["strong/big", "cheap/small"]
        assert plan.params.temperature == 0.1  # the agent's own over the route's 0.7
        # the call's own tag beats its agent's
        plan = router.plan(ask(tags={"team": "sales"}))
        assert [str(d) for t in plan.tiers for d in t] == ["cheap/small"]


def test_a_call_naming_a_model_is_not_rerouted(echo_registry, primary, secondary) -> None:  # type: ignore[no-untyped-def]
    rules = [{"name": "all", "route": "budget"}]  # no condition: matches everything
    with Router(config(primary, secondary, rules), registry=echo_registry) as router:
        assert router.plan(ask(agent=None, model="strong:x")).description == "model strong:x"
        assert router.plan(ask()).description.startswith("rule all → route budget")


def test_a_rule_may_name_a_model_and_fallbacks(echo_registry, primary, secondary) -> None:  # type: ignore[no-untyped-def]
    rules = [{"name": "tools", "when": "capabilities has tools", "model": "strong:toolsy",
              "fallbacks": ["cheap:small"]}]
    tool = ToolSpec(name="f", parameters={"type": "object", "properties": {}})
    with Router(config(primary, secondary, rules), registry=echo_registry) as router:
        plan = router.plan(ask(tools=[tool]))
        assert [str(d) for t in plan.tiers for d in t] == ["strong/toolsy", "cheap/small"]
        assert router.plan(ask()).description.startswith("agent helper")


def test_time_of_day_reads_the_rules_time_zone(echo_registry, primary, secondary) -> None:  # type: ignore[no-untyped-def]
    rules = [{"name": "night", "when": "time between 22:00 and 06:00", "route": "budget",
              "timezone": "Europe/Berlin"},
             {"name": "weekend", "when": "weekday in [sat, sun]", "route": "long_context"}]
    berlin = ZoneInfo("Europe/Berlin")
    now = [datetime(2026, 12, 2, 23, 30, tzinfo=berlin).timestamp()]  # a Wednesday night
    with Router(config(primary, secondary, rules), registry=echo_registry,
                clock=lambda: now[0]) as router:
        assert router.plan(ask()).description.startswith("rule night")
        now[0] = datetime(2026, 12, 2, 12, 0, tzinfo=berlin).timestamp()
        assert router.plan(ask()).description.startswith("agent helper")
        now[0] = datetime(2026, 12, 5, 12, 0, tzinfo=berlin).timestamp()  # Saturday noon
        assert router.plan(ask()).description.startswith("rule weekend")


def test_parameters_and_message_count_are_tested(echo_registry, primary, secondary) -> None:  # type: ignore[no-untyped-def]
    rules = [{"name": "creative", "when": "param.temperature >= 0.9", "route": "budget"},
             {"name": "chatty", "when": "messages > 3", "route": "long_context"}]
    with Router(config(primary, secondary, rules), registry=echo_registry) as router:
        hot = ask(params=GenerationParams(temperature=1.0))
        assert router.plan(hot).description.startswith("rule creative")
        # the agent's temperature (0.1) applies when the call sets none
        assert router.plan(ask()).description.startswith("agent helper")
        long_chat = ChatRequest(messages=[Message.user("x")] * 5,
                                routing=RoutingHints(agent="helper"))
        assert router.plan(long_chat).description.startswith("rule chatty")


def test_one_call_is_decided_once_even_across_a_minute(echo_registry, primary, secondary) -> None:  # type: ignore[no-untyped-def]
    rules = [{"name": "before-noon", "when": "time < 12:00", "route": "budget"}]
    now = [datetime(2026, 12, 2, 11, 59, 59, tzinfo=ZoneInfo("UTC")).timestamp()]
    with Router(config(primary, secondary, rules), registry=echo_registry,
                clock=lambda: now[0]) as router:
        request = ask()
        first = router.planner.source(request)
        now[0] += 2  # the guards read the source again later in the same call
        assert router.planner.source(request) is first
        assert router.planner.source(ask()).description.startswith("agent helper")


def test_another_tenant_never_matches_and_hostile_tags_stay_data(  # type: ignore[no-untyped-def]
    echo_registry, primary, secondary,
) -> None:
    with Router(config(primary, secondary, TENANT_RULES), registry=echo_registry) as router:
        for tenant in ("Free", "free ", 'free" or tenant != "x', "free\nand 1", "", "\x00"):
            plan = router.plan(ask(tags={"tenant": tenant}))
            assert plan.description.startswith("agent helper"), tenant


# --- config errors -----------------------------------------------------------------


@pytest.mark.parametrize(("rule", "field", "says"), [
    ({"name": "x", "when": "tenant = free", "route": "budget"}, "rules.0.when",
     "unexpected character '='"),
    ({"name": "x", "when": "prompt_tokens > lots", "route": "budget"}, "rules.0.when",
     "expected a number"),
    ({"name": "x", "when": "tenant == free", "route": "nope"}, None, "route 'nope' is not defined"),
    ({"name": "x", "route": "budget", "model": "cheap:small"}, "rules.0", "exactly one"),
    ({"name": "x", "model": "small"}, "rules.0", "does not name a provider"),
    ({"name": "x", "route": "budget", "timezone": "Mars/Olympus"}, "rules.0.timezone",
     "unknown time zone"),
])
def test_a_bad_rule_is_a_config_error_naming_the_field(
    echo_registry: PluginRegistry, primary: StandinServer, rule: dict[str, Any],
    field: str | None, says: str,
) -> None:
    with pytest.raises(ConfigError) as err:
        Router(config(primary, primary, [rule]), registry=echo_registry)
    assert says in str(err.value)
    if field:
        assert err.value.field == field


def test_a_rule_model_naming_an_unknown_provider_is_refused(echo_registry, primary) -> None:  # type: ignore[no-untyped-def]
    rules = [{"name": "x", "model": "ghost:m"}]
    with pytest.raises(ConfigError) as err:
        Router(config(primary, primary, rules), registry=echo_registry)
    assert err.value.field == "rules[0].model"


# --- route --explain ---------------------------------------------------------------


def _write(tmp_path: Any, monkeypatch: pytest.MonkeyPatch, cfg: dict[str, Any]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("POLYROUTE_CONFIG", raising=False)
    (tmp_path / "polyroute.yaml").write_text(json.dumps(cfg))


def test_route_explain_names_the_rule_and_why_earlier_ones_did_not_match(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _write(tmp_path, monkeypatch, config(primary, secondary, TENANT_RULES))
    prompt = tmp_path / "prompt.txt"
    prompt.write_text(LONG)
    run = CliRunner()
    result = run.invoke(main, ["route", "helper", "--explain", "--tag", "tenant=acme",
                               "--prompt-file", str(prompt)], obj=echo_registry,
                        catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "free-tier → route budget: no match (tenant is 'acme': does not match tenant == free)" \
        in out
    assert "long-prompts → route long_context: matched (prompt_tokens is" in out
    assert "rule long-prompts → route long_context" in out  # the source line
    data = json.loads(run.invoke(main, ["route", "helper", "--json", "--tag", "tenant=free"],
                                 obj=echo_registry).stdout)
    assert data["rules"] == [{"rule": "free-tier", "matched": True, "target": "route budget",
                              "why": "tenant is 'free': matches tenant == free"}]
    assert [c["provider"] for c in data["candidates"]] == ["cheap"]
    result = run.invoke(main, ["route", "helper", "--explain"], obj=echo_registry)
    assert "(no rule matched: the call keeps its own route)" in result.stdout
    result = run.invoke(main, ["route", "--model", "strong:x", "--explain"], obj=echo_registry)
    assert "not consulted (the call names a model)" in result.stdout
    bad = run.invoke(main, ["route", "helper", "--tag", "tenant"], obj=echo_registry)
    assert bad.exit_code != 0 and "is not KEY=VALUE" in bad.output


def test_check_lists_the_rules_in_order(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    _write(tmp_path, monkeypatch, config(primary, secondary, TENANT_RULES))
    run = CliRunner()
    out = run.invoke(main, ["check"], obj=echo_registry, catch_exceptions=False).stdout
    assert "Rules (tried in order, the first match decides)" in out
    assert out.index("free-tier") < out.index("long-prompts")
    data = json.loads(run.invoke(main, ["check", "--json"], obj=echo_registry).stdout)
    assert data["rules"][1] == {"rule": "long-prompts", "when": "prompt_tokens > 50k",
                                "route": "long_context", "model": None}
