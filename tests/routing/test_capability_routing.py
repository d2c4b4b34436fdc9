"""Capability-aware routing: candidates that lack a capability or whose context window
cannot hold the call are skipped before any call, with the reason; a context overflow
from a provider falls back only to larger windows."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from polyroute.cli import main
from polyroute.errors import NoRouteError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.routing.plan import Deployment, TokenNeed, window_reason
from polyroute.testing.standin import Fault, StandinServer
from polyroute.tokens import estimate_prompt_tokens
from polyroute.types import (
    ChatRequest,
    ImagePart,
    Message,
    ModelInfo,
    ResponseFormat,
    RoutingHints,
    TextPart,
    ToolSpec,
)

pytestmark = pytest.mark.standin

TOOL = ToolSpec(name="lookup", description="look something up",
                parameters={"type": "object", "properties": {"q": {"type": "string"}}})
OVERFLOW = "This model's maximum context length is 8192 tokens"  # see conftest.CatalogEcho
LONG = "lorem ipsum dolor sit amet " * 2000  # ~54,000 characters: well over 8,000 tokens


def config(*servers: StandinServer, **extra: Any) -> dict[str, Any]:
    names = ("a", "b", "c")
    return {
        "providers": {n: {"type": "cat_echo", "base_url": s.url}
                      for n, s in zip(names, servers, strict=False)},
        "retry": {"attempts": 1},
        **extra,
    }


def ask(text: str = "hi", *, model: str | None = None, fallbacks: tuple[str, ...] = (),
        agent: str | None = None, **kwargs: Any) -> ChatRequest:
    return ChatRequest(messages=[Message.user(text)], routing=RoutingHints(
        model=model, fallbacks=list(fallbacks), agent=agent), **kwargs)


# --- capabilities ------------------------------------------------------------------


def test_tool_request_skips_a_candidate_without_tools(registry, primary, secondary) -> None:  # type: ignore[no-untyped-def]
    with Router(config(primary, secondary), registry=registry) as router:
        request = ask(model="a:small", fallbacks=("b:big",), tools=[TOOL])
        plan = router.plan(request)
        assert [d.key for d in plan.candidates] == ["b/big"]
        assert [(o.provider, o.model, o.reason) for o in plan.skipped] == [
            ("a", "small", "lacks capability tools")]
        resp = router.chat(request)
        assert (resp.provider, resp.model) == ("b", "big")
        assert [a.provider for a in resp.attempts] == ["b"]  # a was never called
        assert primary.requests == []
        # without tools, the small model is first again
        assert [d.key for d in router.plan(ask(model="a:small", fallbacks=("b:big",))
                                           ).candidates] == ["a/small", "b/big"]


def test_no_route_error_names_every_capability_skip(registry, primary) -> None:  # type: ignore[no-untyped-def]
    with Router(config(primary), registry=registry) as router:
        image = Message(role="user", content=[TextPart(text="what is it?"),
                                              ImagePart(url="https://x/cat.png")])
        request = ChatRequest(
            messages=[image], response_format=ResponseFormat(type="json_schema",
                                                             json_schema={"type": "object"}),
            tools=[TOOL], routing=RoutingHints(model="a:small", fallbacks=["a:mid"]))
        with pytest.raises(NoRouteError) as info:
            router.chat(request)
    text = str(info.value)
    assert "a/small skipped: lacks capability json_schema, tools, vision" in text
    assert "a/mid skipped: lacks capability json_schema, vision" in text
    assert primary.requests == []


def test_unknown_models_are_not_skipped(registry, primary) -> None:  # type: ignore[no-untyped-def]
    with Router(config(primary), registry=registry) as router:
        plan = router.plan(ask(LONG, model="a:unlisted", tools=[TOOL]))
        assert [d.key for d in plan.candidates] == ["a/unlisted"]


# --- context windows ------------------------------------------------------------------


def test_long_prompt_skips_small_context_models(registry, primary, secondary) -> None:  # type: ignore[no-untyped-def]
    with Router(config(primary, secondary), registry=registry) as router:
        request = ask(LONG, model="a:small", fallbacks=("a:mid", "b:big"))
        tokens = estimate_prompt_tokens(request)
        assert 8_000 < tokens < 32_000
        plan = router.plan(request)
        assert [d.key for d in plan.candidates] == ["a/mid", "b/big"]
        (skip,) = plan.skipped
        assert skip.model == "small"
        assert skip.reason == (f"context window 8,000 tokens cannot hold ~{tokens:,} "
                               "prompt tokens")
        resp = router.chat(request)
        assert (resp.provider, resp.model) == ("a", "mid")


def test_max_output_counts_too(registry, primary, secondary) -> None:  # type: ignore[no-untyped-def]
    cfg = config(primary, secondary, agents={
        "writer": {"model": "a:mid", "fallbacks": ["b:big"], "max_tokens": 40_000}})
    with Router(cfg, registry=registry) as router:
        plan = router.plan(ask("short", agent="writer"))
        assert [d.key for d in plan.candidates] == ["b/big"]
        assert "+ 40,000 max output tokens" in plan.skipped[0].reason
        # the call's own max_tokens wins over the agent's
        plan = router.plan(ask("short", agent="writer").model_copy(
            update={"params": ask().params.model_copy(update={"max_tokens": 100})}))
        assert [d.key for d in plan.candidates] == ["a/mid", "b/big"]


def test_every_window_too_small_is_a_no_route_error(registry, primary) -> None:  # type: ignore[no-untyped-def]
    with Router(config(primary), registry=registry) as router:
        with pytest.raises(NoRouteError) as info:
            router.chat(ask(LONG * 4, model="a:small", fallbacks=("a:mid",)))
        assert "no usable candidate" in str(info.value)
        assert [o.model for o in info.value.outcomes] == ["small", "mid"]
        assert all("cannot hold" in o.reason for o in info.value.outcomes)


def test_config_overrides_change_the_window(registry, primary) -> None:  # type: ignore[no-untyped-def]
    cfg = config(primary, models={"a/small": {"context_window": 200_000}})
    with Router(cfg, registry=registry) as router:
        assert [d.key for d in router.plan(ask(LONG, model="a:small")).candidates] == ["a/small"]


def test_window_reason() -> None:
    info = ModelInfo(provider_type="t", model="m", context_window=1_000)
    assert window_reason(info, TokenNeed(900, 100)) is None
    assert window_reason(info, TokenNeed(900, 101)) == (
        "context window 1,000 tokens cannot hold ~900 prompt + 101 max output tokens")
    assert window_reason(ModelInfo(provider_type="t", model="m"), TokenNeed(10**9)) is None
    assert window_reason(None, TokenNeed(10**9)) is None


# --- overflow fallback ------------------------------------------------------------------


def test_overflow_falls_back_to_a_larger_window(registry, primary, secondary, third) -> None:  # type: ignore[no-untyped-def]
    cfg = config(primary, secondary, third, models={"b/mid": {"context_window": 16_000}})
    with Router(cfg, registry=registry) as router:
        primary.push(Fault.status(400, message=OVERFLOW))
        request = ask(model="a:mid", fallbacks=("b:mid", "b:small", "c:unlisted-mid", "a:mid",
                                                "c:big"))
        resp = router.chat(request)
        assert (resp.provider, resp.model) == ("c", "unlisted-mid")
        assert [a.provider for a in resp.attempts] == ["a", "c"]
        assert secondary.requests == []  # b/mid (16k) and b/small (8k) are not larger than 32k

    # and NoRouteError says why each one was skipped
    with Router(cfg, registry=registry) as router:
        primary.push(Fault.status(400, message=OVERFLOW))
        with pytest.raises(NoRouteError) as info:
            router.chat(ask(model="a:mid", fallbacks=("b:mid", "b:small")))
        reasons = [str(o) for o in info.value.outcomes]
        assert reasons[0].startswith("a/mid failed: ContextWindowError")
        assert reasons[1] == ("b/mid skipped: context window 16,000 tokens is not larger "
                              "than 32,000 of a/mid, which overflowed")
        assert reasons[2].startswith("b/small skipped: context window 8,000 tokens")


def test_overflow_skips_the_same_unknown_model_elsewhere(registry, primary, secondary, third
                                                         ) -> None:  # type: ignore[no-untyped-def]
    with Router(config(primary, secondary, third), registry=registry) as router:
        primary.push(Fault.status(400, message=OVERFLOW))
        resp = router.chat(ask(model="a:custom", fallbacks=("b:custom", "c:big")))
        assert resp.provider == "c"
        assert secondary.requests == []


async def test_overflow_fallback_async_and_streamed(registry, primary, secondary) -> None:  # type: ignore[no-untyped-def]
    with Router(config(primary, secondary), registry=registry) as router:
        primary.push(Fault.status(400, message=OVERFLOW))
        resp = await router.achat(ask(model="a:mid", fallbacks=("b:small", "b:big")))
        assert (resp.provider, resp.model) == ("b", "big")
        primary.push(Fault.status(400, message=OVERFLOW))
        chunks = [c async for c in router.astream(
            ask(model="a:mid", fallbacks=("b:small", "b:big"), stream=True))]
        assert chunks[-1].provider == "b" and chunks[-1].model == "big"
        primary.push(Fault.status(400, message=OVERFLOW))
        chunks = list(router.stream(ask(model="a:mid", fallbacks=("b:mid", "b:big"),
                                        stream=True)))
        assert chunks[-1].model == "big"
        # the overflow is forgotten once the call ends: the next call may use a/mid again
        assert router.chat(ask(model="a:mid")).model == "mid"


def test_other_failures_do_not_restrict_windows(registry, primary, secondary) -> None:  # type: ignore[no-untyped-def]
    with Router(config(primary, secondary), registry=registry) as router:
        primary.push(Fault.status(400, message="bad request"))
        resp = router.chat(ask(model="a:mid", fallbacks=("b:small",)))
        assert (resp.provider, resp.model) == ("b", "small")


# --- route --explain -------------------------------------------------------------------


def test_route_explain_shows_capability_and_window_skips(
    registry: PluginRegistry, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("POLYROUTE_CONFIG", raising=False)
    (tmp_path / "polyroute.yaml").write_text(json.dumps({
        "providers": {"a": {"type": "cat_echo"}},
        "agents": {"long_writer": {"model": "a:small", "fallbacks": ["a:mid", "a:big"],
                                   "max_tokens": 40_000}},
    }))
    run = CliRunner()
    result = run.invoke(main, ["route", "long_writer", "--explain", "--tools"], obj=registry,
                        catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "a/small" in out and "lacks capability tools" in out
    assert "context window 32,000 tokens cannot hold" in out and "40,000 max output" in out
    line = next(x for x in out.splitlines() if "a/big" in x)
    assert "ok" in line
    data = json.loads(run.invoke(main, ["route", "long_writer", "--json"], obj=registry).stdout)
    skipped = {c["model"]: c["reason"] for c in data["candidates"] if c["status"] == "skipped"}
    assert set(skipped) == {"small", "mid"}  # without --tools, small is still too small
    assert skipped["mid"].startswith("context window 32,000 tokens cannot hold")


def test_plan_skip_reason_public_signature(registry, primary) -> None:  # type: ignore[no-untyped-def]
    with Router(config(primary), registry=registry) as router:
        request = ask(LONG)
        reason = router.planner.skip_reason(Deployment("a", "small"), set(), request)
        assert reason is not None and "cannot hold" in reason
