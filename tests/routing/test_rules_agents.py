"""Per-agent system prompt templates, parameter profiles, and environment overrides of
an agent's model (``POLYROUTE_AGENT_<AGENT>_MODEL``): what the provider is sent, what a
call overrides, and the typed errors."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from polyroute.cli import main
from polyroute.config import config_from_data
from polyroute.config.rules import agent_env_name
from polyroute.errors import ConfigError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.routing.guards import Guard
from polyroute.routing.prompts import PromptTemplateError
from polyroute.testing.standin import StandinServer
from polyroute.types import ChatRequest, GenerationParams, Message, RoutingHints

pytestmark = pytest.mark.standin


class Sent(Guard):
    """Records the request each attempt sends."""

    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []

    def before_attempt(self, dep: Any, request: ChatRequest) -> None:
        self.requests.append(request)


def config(server: StandinServer, **agents: dict[str, Any]) -> dict[str, Any]:
    return {"providers": {"p": {"type": "echo", "base_url": server.url}},
            "routes": {"main": {"tiers": [["p:big"], ["p:small"]]}},
            "param_profiles": {"precise": {"temperature": 0.0, "top_p": 0.5, "max_tokens": 300,
                                           "params": {"seed_style": "fixed", "x": 1}}},
            "agents": agents or {"support": {"model": "p:small"}},
            "retry": {"attempts": 1}}


def ask(text: str = "hi", *, agent: str = "support", system: str | None = None,
        **hints: Any) -> ChatRequest:
    messages = ([Message.system(system)] if system else []) + [Message.user(text)]
    return ChatRequest(messages=messages, routing=RoutingHints(agent=agent, **hints))


# --- system prompts ------------------------------------------------------------------

SUPPORT = {"model": "p:small",
           "system_prompt": "You help customers of $company in ${language}. Costs: $$5.",
           "prompt_vars": {"language": "English"}}


def test_the_agent_prompt_is_rendered_with_call_and_default_vars(echo_registry, primary) -> None:  # type: ignore[no-untyped-def]
    sent = Sent()
    with Router(config(primary, support=SUPPORT), registry=echo_registry,
                guards=[sent]) as router:
        router.chat(ask(prompt_vars={"company": "ACME"}))
        router.chat(ask(prompt_vars={"company": "Initech", "language": "German"}))
    first, second = (r.messages for r in sent.requests)
    assert first[0] == Message.system("You help customers of ACME in English. Costs: $5.")
    assert second[0].text == "You help customers of Initech in German. Costs: $5."
    assert [m.role for m in first] == ["system", "user"]


def test_a_call_with_its_own_system_message_keeps_it(echo_registry, primary) -> None:  # type: ignore[no-untyped-def]
    sent = Sent()
    with Router(config(primary, support=SUPPORT), registry=echo_registry,
                guards=[sent]) as router:
        router.chat(ask(system="Be terse."))  # no company needed: the template is unused
    assert [m.text for m in sent.requests[0].messages] == ["Be terse.", "hi"]


def test_a_missing_variable_is_a_typed_error_before_any_call(echo_registry, primary) -> None:  # type: ignore[no-untyped-def]
    with Router(config(primary, support=SUPPORT), registry=echo_registry) as router, \
            pytest.raises(PromptTemplateError) as err:
        router.chat(ask())
    assert err.value.field == "agents.support.system_prompt"
    assert "$company" in str(err.value) and "prompt_vars" in (err.value.fix or "")
    assert primary.requests == []


def test_variable_values_are_text_never_code(echo_registry, primary) -> None:  # type: ignore[no-untyped-def]
    sent = Sent()
    hostile = "${language} {0.__class__} $$ %s"
    with Router(config(primary, support=SUPPORT), registry=echo_registry,
                guards=[sent]) as router:
        router.chat(ask(prompt_vars={"company": hostile}))
    assert sent.requests[0].messages[0].text.startswith(f"You help customers of {hostile} in")


@pytest.mark.parametrize("template", ["Hello $", "Price: $5", "${unclosed"])
def test_an_invalid_template_is_refused_at_load(primary: StandinServer, template: str) -> None:
    with pytest.raises(ConfigError) as err:
        config_from_data(config(primary, a={"model": "p:x", "system_prompt": template}))
    assert err.value.field == "agents.a.system_prompt"


def test_the_langchain_adapter_passes_prompt_vars(echo_registry, primary) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("langchain_core")
    from polyroute.langchain import RoutedChatModel

    sent = Sent()
    router = Router(config(primary, support=SUPPORT), registry=echo_registry, guards=[sent])
    llm = RoutedChatModel(router=router, agent="support")
    llm.invoke("hi", prompt_vars={"company": "ACME"})
    router.close()
    assert sent.requests[0].messages[0].text.startswith("You help customers of ACME")


# --- parameter profiles ----------------------------------------------------------------


def test_a_profile_sits_under_the_agent_and_the_call_overrides_both(echo_registry, primary) -> None:  # type: ignore[no-untyped-def]
    sent = Sent()
    agent = {"model": "p:small", "param_profile": "precise", "top_p": 0.9, "params": {"x": 2}}
    with Router(config(primary, support=agent), registry=echo_registry,
                guards=[sent]) as router:
        router.chat(ask())
        call = ask()
        call.params = GenerationParams(temperature=0.7)
        router.chat(call)
    first, second = (r.params for r in sent.requests)
    assert (first.temperature, first.top_p, first.max_tokens) == (0.0, 0.9, 300)
    assert first.extra == {"seed_style": "fixed", "x": 2}
    assert (second.temperature, second.top_p) == (0.7, 0.9)


def test_an_unknown_profile_is_a_config_error(primary: StandinServer) -> None:
    with pytest.raises(ConfigError, match="profile 'nope' is not defined"):
        config_from_data(config(primary, a={"model": "p:x", "param_profile": "nope"}))


# --- environment overrides -------------------------------------------------------------


@pytest.mark.parametrize(("agent", "var"), [
    ("swe_agent", "POLYROUTE_AGENT_SWE_AGENT_MODEL"),
    ("swe-agent", "POLYROUTE_AGENT_SWE_AGENT_MODEL"),
    ("Billing.v2", "POLYROUTE_AGENT_BILLING_V2_MODEL"),
])
def test_the_documented_naming_rule(agent: str, var: str) -> None:
    assert agent_env_name(agent) == var


def test_the_environment_points_an_agent_at_another_model(  # type: ignore[no-untyped-def]
    echo_registry, primary, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLYROUTE_AGENT_SWE_AGENT_MODEL", "p:override")
    cfg = config_from_data(config(primary, **{"swe-agent": {"route": "main"},
                                              "other": {"model": "p:small"}}))
    assert cfg.env_overrides == {"swe-agent": "POLYROUTE_AGENT_SWE_AGENT_MODEL=p:override"}
    with Router(cfg, registry=echo_registry) as router:
        assert router.chat(ask(agent="swe-agent")).model == "override"
        assert router.chat(ask(agent="other")).model == "small"


@pytest.mark.parametrize(("var", "value", "says"), [
    ("POLYROUTE_AGENT_NOBODY_MODEL", "p:x", "names no configured agent"),
    ("POLYROUTE_AGENT_SUPPORT_MODEL", "justamodel", "does not name a provider"),
    ("POLYROUTE_AGENT_SUPPORT_MODEL", "p:default", "no model marked default"),
])
def test_a_bad_override_is_a_config_error_naming_the_variable(
    primary: StandinServer, monkeypatch: pytest.MonkeyPatch, var: str, value: str, says: str,
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as err:
        config_from_data(config(primary))
    assert says in str(err.value) and err.value.field == var


def test_two_agents_sharing_a_variable_name_are_refused(
    primary: StandinServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POLYROUTE_AGENT_A_B_MODEL", "p:x")
    with pytest.raises(ConfigError, match="several agents"):
        config_from_data(config(primary, **{"a-b": {"model": "p:y"}, "a_b": {"model": "p:z"}}))


def test_route_explain_and_check_show_the_override(  # type: ignore[no-untyped-def]
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("POLYROUTE_CONFIG", raising=False)
    (tmp_path / "polyroute.yaml").write_text(json.dumps(config(primary)))
    monkeypatch.setenv("POLYROUTE_AGENT_SUPPORT_MODEL", "p:from-env")
    run = CliRunner()
    out = run.invoke(main, ["route", "support", "--explain"], obj=echo_registry,
                     catch_exceptions=False).stdout
    assert "model from environment POLYROUTE_AGENT_SUPPORT_MODEL=p:from-env" in out
    assert "p/from-env" in out
    out = run.invoke(main, ["check"], obj=echo_registry, catch_exceptions=False).stdout
    assert "agent support: model from environment POLYROUTE_AGENT_SUPPORT_MODEL=p:from-env" \
        in out
    data = json.loads(run.invoke(main, ["check", "--json"], obj=echo_registry).stdout)
    assert data["agents"]["support"]["env_override"] == \
        "POLYROUTE_AGENT_SUPPORT_MODEL=p:from-env"


def test_streams_and_async_calls_get_the_prompt_and_the_rule(echo_registry, primary) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    cfg = config(primary, support=SUPPORT)
    cfg["rules"] = [{"name": "free", "when": "tenant == free", "route": "main"}]
    sent = Sent()
    with Router(cfg, registry=echo_registry, guards=[sent]) as router:
        request = ask(prompt_vars={"company": "ACME"}, tags={"tenant": "free"})
        chunks = list(router.stream(request.model_copy(update={"stream": True})))
        answer = asyncio.run(router.achat(request))

        async def astream() -> list[Any]:
            return [c async for c in router.astream(request.model_copy(update={"stream": True}))]

        achunks = asyncio.run(astream())
    assert answer.model == "big" and chunks[-1].model == "big" and achunks[-1].model == "big"
    assert all(r.messages[0].text.startswith("You help customers of ACME")
               for r in sent.requests) and len(sent.requests) == 3


def test_the_llamaindex_adapter_passes_prompt_vars(echo_registry, primary) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("llama_index.core")
    from llama_index.core.llms import ChatMessage

    from polyroute.llamaindex import RoutedLLM

    sent = Sent()
    router = Router(config(primary, support=SUPPORT), registry=echo_registry, guards=[sent])
    llm = RoutedLLM(router=router, agent="support")
    llm.chat([ChatMessage(role="user", content="hi")], prompt_vars={"company": "Initech"})
    router.close()
    assert sent.requests[0].messages[0].text.startswith("You help customers of Initech")


def test_route_explain_shows_the_agents_prompt_template(  # type: ignore[no-untyped-def]
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("POLYROUTE_CONFIG", raising=False)
    (tmp_path / "polyroute.yaml").write_text(json.dumps(config(primary, support=SUPPORT)))
    run = CliRunner()
    out = run.invoke(main, ["route", "support", "--explain"], obj=echo_registry,
                     catch_exceptions=False).stdout
    assert "variables: $company, $language; defaults: language" in out
    data = json.loads(run.invoke(main, ["route", "support", "--json"], obj=echo_registry).stdout)
    assert data["system_prompt"]["variables"] == ["$company", "$language"]


def test_a_key_pasted_into_the_model_variable_is_not_echoed(
    primary: StandinServer, monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = "sk-proj-" + "A1b2C3d4E5" * 4
    monkeypatch.setenv("POLYROUTE_AGENT_SUPPORT_MODEL", key)
    with pytest.raises(ConfigError) as err:
        config_from_data(config(primary))
    assert key not in str(err.value) and key not in repr(err.value)
    assert err.value.field == "POLYROUTE_AGENT_SUPPORT_MODEL"
