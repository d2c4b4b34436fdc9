"""The parameter policy: a parameter a provider cannot take is dropped silently, dropped
with a warning, or refused (the candidate skipped, with the reason)."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from click.testing import CliRunner

from polyroute.cli import main
from polyroute.errors import NoRouteError
from polyroute.params import PARAMS, for_provider, supported_params, unsupported_params
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.testing.standin import StandinServer
from polyroute.types import ChatRequest, GenerationParams, Message, RoutingHints

pytestmark = pytest.mark.standin


def config(picky: StandinServer, easy: StandinServer, policy: str, **extra: Any) -> dict[str, Any]:
    return {
        "providers": {"picky": {"type": "picky_echo", "base_url": picky.url},
                      "easy": {"type": "cat_echo", "base_url": easy.url}},
        "params_policy": policy, "retry": {"attempts": 1}, **extra,
    }


def ask(**params: Any) -> ChatRequest:
    return ChatRequest(messages=[Message.user("hi")], params=GenerationParams(**params),
                       routing=RoutingHints(model="picky:big", fallbacks=["easy:big"]))


def test_refuse_skips_the_candidate_with_the_reason(registry, primary, secondary) -> None:  # type: ignore[no-untyped-def]
    with Router(config(primary, secondary, "refuse"), registry=registry) as router:
        request = ask(temperature=0.2, top_k=5, seed=7)
        plan = router.plan(request)
        assert [d.key for d in plan.candidates] == ["easy/big"]
        assert plan.skipped[0].reason == (
            "cannot take parameter top_k, seed (picky_echo does not support it; "
            "params_policy: refuse)")
        assert router.chat(request).provider == "easy"
        assert primary.requests == []
        # what it can take is fine
        assert router.chat(ask(temperature=0.2, max_tokens=10)).provider == "picky"
        only_picky = ask(top_k=5).model_copy(update={"routing": RoutingHints(model="picky:big")})
        with pytest.raises(NoRouteError, match="picky/big skipped: cannot take parameter top_k"):
            router.chat(only_picky)


def test_refuse_counts_the_agents_params(registry, primary, secondary) -> None:  # type: ignore[no-untyped-def]
    cfg = config(primary, secondary, "refuse",
                 agents={"sampler": {"model": "picky:big", "fallbacks": ["easy:big"],
                                     "top_p": 0.9}})
    with Router(cfg, registry=registry) as router:
        plan = router.plan(ChatRequest(messages=[Message.user("x")],
                                       routing=RoutingHints(agent="sampler")))
        assert [d.key for d in plan.candidates] == ["easy/big"]
        assert "top_p" in plan.skipped[0].reason


def test_warn_drops_logs_once_and_says_so(registry, primary, secondary, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.WARNING, logger="polyroute.params")
    with Router(config(primary, secondary, "warn"), registry=registry) as router:
        resp = router.chat(ask(temperature=0.3, top_k=5))
        assert resp.provider == "picky"
        assert resp.provider_metadata["polyroute_dropped_params"] == ["top_k"]
        router.chat(ask(top_k=5))
    warnings = [r.getMessage() for r in caplog.records if r.name == "polyroute.params"]
    assert len(warnings) == 1
    assert "provider 'picky' cannot take top_k for model big: dropped" in warnings[0]
    assert json.loads(primary.requests[0].body)["temperature"] == 0.3


def test_drop_is_silent(registry, primary, secondary, caplog) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.WARNING, logger="polyroute.params")
    with Router(config(primary, secondary, "drop"), registry=registry) as router:
        resp = router.chat(ask(top_k=5, seed=1))
    assert resp.provider == "picky"
    assert "polyroute_dropped_params" not in resp.provider_metadata
    assert not [r for r in caplog.records if r.name == "polyroute.params"]


def test_for_provider_strips_what_the_provider_cannot_take(registry, primary, secondary) -> None:  # type: ignore[no-untyped-def]
    with Router(config(primary, secondary, "warn"), registry=registry) as router:
        picky, easy = router.provider("picky"), router.provider("easy")
        assert picky is not None and easy is not None
        request = ask(temperature=0.1, top_k=3, stop=["x"], extra={"custom": 1})
        assert unsupported_params(picky, request.params) == ["top_k", "stop"]
        stripped = for_provider(request, picky)
        assert stripped.params.top_k is None and stripped.params.stop is None
        assert stripped.params.temperature == 0.1 and stripped.params.extra == {"custom": 1}
        assert request.params.top_k == 3  # the original is untouched
        assert for_provider(request, easy) is request  # supports everything


def test_config_can_declare_supported_params(registry, primary, secondary) -> None:  # type: ignore[no-untyped-def]
    cfg = config(primary, secondary, "refuse")
    cfg["providers"]["easy"]["extra"] = {"supported_params": ["temperature"]}
    with Router(cfg, registry=registry) as router:
        easy = router.provider("easy")
        assert easy is not None and supported_params(easy) == frozenset({"temperature"})
        with pytest.raises(NoRouteError) as info:
            router.chat(ask(seed=1))
        assert [o.skipped for o in info.value.outcomes] == [True, True]


def test_params_names() -> None:
    assert set(PARAMS) == set(GenerationParams.model_fields) - {"extra"}


def test_route_explain_shows_a_refused_param(
    registry: PluginRegistry, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("POLYROUTE_CONFIG", raising=False)
    (tmp_path / "polyroute.yaml").write_text(json.dumps({
        "providers": {"picky": {"type": "picky_echo"}, "easy": {"type": "cat_echo"}},
        "params_policy": "refuse",
        "agents": {"a": {"model": "picky:big", "fallbacks": ["easy:big"], "seed": 42}},
    }))
    result = CliRunner().invoke(main, ["route", "a", "--explain"], obj=registry,
                                catch_exceptions=False)
    assert result.exit_code == 0
    assert "cannot take parameter seed" in result.stdout
