"""What a call derives from its request is derived once: the prompt-token estimate
(context windows, ``lowest_cost``, budgets, rate limits) and each deployment's
parameter verdict (the params guard, the request a provider is given)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import polyroute.params
import polyroute.tokens
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.testing.standin import Fault, StandinServer
from polyroute.tokens import prompt_tokens
from polyroute.types import ChatRequest, GenerationParams, Message, RoutingHints, ToolSpec

pytestmark = pytest.mark.standin


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Calls of the two computations, by name; verdicts also by ``provider/model``."""
    calls: Counter[str] = Counter()
    estimate, verdict = polyroute.tokens.estimate_prompt_tokens, polyroute.params.unsupported_params

    def counting_estimate(request: ChatRequest) -> int:
        calls["estimate"] += 1
        return estimate(request)

    def counting_verdict(provider: Any, params: GenerationParams,
                         model: str | None = None) -> list[str]:
        calls["verdict"] += 1
        calls[f"verdict {provider.name}/{model}"] += 1
        return verdict(provider, params, model)

    monkeypatch.setattr(polyroute.tokens, "estimate_prompt_tokens", counting_estimate)
    monkeypatch.setattr(polyroute.params, "unsupported_params", counting_verdict)
    return calls


@pytest.fixture
def router(registry: PluginRegistry, primary: StandinServer, secondary: StandinServer
           ) -> Iterator[Router]:
    cfg = {
        "providers": {"picky": {"type": "picky_echo", "base_url": primary.url, "tpm": 1_000_000},
                      "easy": {"type": "cat_echo", "base_url": secondary.url, "rpm": 1_000}},
        "routes": {"cheap": {"strategy": "lowest_cost", "tiers": [["picky:big", "easy:big"]]}},
        "budgets": [{"scope": "global", "usd": 100, "per": "day"}],
        "rate_limits": {"deployments": {"easy": {"tpm": 1_000_000}}},
        "params_policy": "warn",
        "retry": {"attempts": 1},
    }
    with Router(cfg, registry=registry) as r:
        yield r


def ask() -> ChatRequest:
    return ChatRequest(
        messages=[Message.system("be brief"), Message.user("hi " * 50)],
        params=GenerationParams(temperature=0.2, top_k=5, max_tokens=20),
        tools=[ToolSpec(name="lookup", description="find a thing")],
        routing=RoutingHints(task="cheap", max_cost_usd=10.0),
    )


def fail_first(router: Router, request: ChatRequest, servers: dict[str, StandinServer]
               ) -> list[str]:
    """Make the first planned candidate answer 500, so the call falls back."""
    order = [d.key for d in router.plan(request.model_copy(deep=True)).candidates]
    servers[order[0].split("/")[0]].push(Fault.status(500))
    return order


def test_one_estimate_and_one_verdict_per_deployment_through_a_fallback(
    router: Router, primary: StandinServer, secondary: StandinServer, counted: Counter[str],
) -> None:
    request = ask()
    order = fail_first(router, request, {"picky": primary, "easy": secondary})
    counted.clear()  # the plan above was a dry run (of a copy); count the call alone
    response = router.chat(request)
    assert [a.provider for a in response.attempts] == [k.split("/")[0] for k in order]
    assert [a.ok for a in response.attempts] == [False, True]
    assert counted["estimate"] == 1
    assert counted["verdict picky/big"] == 1
    assert counted["verdict easy/big"] == 1
    assert counted["verdict"] == 2
    # and the verdict still does its work (warn: the answer names what was dropped)
    dropped = response.provider_metadata.get("polyroute_dropped_params")
    assert dropped == (["top_k"] if response.provider == "picky" else None)


@pytest.mark.parametrize("drive", ["stream", "astream", "achat"])
async def test_the_same_holds_for_streams_and_async(
    router: Router, primary: StandinServer, secondary: StandinServer, counted: Counter[str],
    drive: str,
) -> None:
    request = ask()
    fail_first(router, request, {"picky": primary, "easy": secondary})
    counted.clear()
    if drive == "stream":
        chunks = list(router.stream(request))
        assert chunks[-1].provider
    elif drive == "astream":
        chunks = [c async for c in router.astream(request)]
        assert chunks[-1].provider
    else:
        assert (await router.achat(request)).provider
    assert counted["estimate"] == 1
    assert counted["verdict"] == 2


def test_a_request_edited_between_calls_is_estimated_again(counted: Counter[str]) -> None:
    request = ask()
    first = prompt_tokens(request)
    assert prompt_tokens(request.model_copy(update={"stream": True})) == first
    assert counted["estimate"] == 1  # the copy kept the messages: no new estimate
    request.messages.append(Message.user("and one more thing " * 20))
    assert prompt_tokens(request) > first
    request.messages[-1].content = "short"
    shorter = prompt_tokens(request)
    assert shorter < prompt_tokens(request.model_copy(
        update={"messages": [*request.messages, Message.user("more " * 30)]}))
    assert prompt_tokens(request) == shorter == polyroute.tokens.estimate_prompt_tokens(request)
    assert counted["estimate"] == 6


def test_parts_and_tools_edited_in_place_are_estimated_again(counted: Counter[str]) -> None:
    from polyroute.types import TextPart

    request = ask()
    request.messages.append(Message(role="user", content=[TextPart(text="look")]))
    first = prompt_tokens(request)
    request.messages[-1].content.append(TextPart(text="and this " * 40))  # type: ignore[union-attr]
    second = prompt_tokens(request)
    assert second > first
    request.tools.append(ToolSpec(name="lookup", description="find things " * 20))
    assert prompt_tokens(request) > second
    assert prompt_tokens(request) == polyroute.tokens.estimate_prompt_tokens(request)


def test_the_memo_is_not_part_of_the_request(counted: Counter[str]) -> None:
    fresh, used = ask(), ask()
    prompt_tokens(used)
    assert used == fresh  # equality, dumps and deep copies ignore it
    assert used.model_dump() == fresh.model_dump()
    assert used.model_copy(deep=True) == fresh
    counted.clear()
    prompt_tokens(used.model_copy(deep=True))
    assert counted["estimate"] == 1  # a deep copy starts empty


def test_verdicts_are_per_provider_instance(
    registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    counted: Counter[str],
) -> None:
    """Two routers whose providers share a name but not a type give their own verdicts."""
    request = ask()
    picky: Callable[[str], dict[str, Any]] = lambda t: {  # noqa: E731
        "providers": {"p": {"type": t, "base_url": primary.url}}}
    with Router(picky("picky_echo"), registry=registry) as a, \
            Router(picky("cat_echo"), registry=registry) as b:
        pa, pb = a.provider("p"), b.provider("p")
        assert pa is not None and pb is not None
        assert polyroute.params.param_verdict(request, pa, "big") == ["top_k"]
        assert polyroute.params.param_verdict(request, pb, "big") == []
        assert polyroute.params.param_verdict(request, pa, "big") == ["top_k"]
