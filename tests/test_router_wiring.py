"""Router-level wiring: content-policy chains, central parameter dropping, async
single-flight through the cache, the state backend from config, close flushing the ledger."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from polyroute.errors import ContentPolicyError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.state.sqlite import SQLiteStore
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import ChatRequest, ChatResponse, GenerationParams, Message, RoutingHints


def refuse_on_400(monkeypatch: pytest.MonkeyPatch) -> None:
    import echo_provider

    def refuse(self, response, model):  # type: ignore[no-untyped-def]
        return ContentPolicyError("refused", provider=self.name, model=model, status=400)

    monkeypatch.setattr(echo_provider.EchoProvider, "parse_error", refuse)


def three(primary: StandinServer, secondary: StandinServer, **extra: Any) -> dict[str, Any]:
    return {
        "providers": {"a": {"type": "echo", "base_url": primary.url},
                      "b": {"type": "echo", "base_url": secondary.url},
                      "safe": {"type": "echo", "base_url": secondary.url}},
        "agents": {"bot": {"model": "a:m", "fallbacks": ["b:m"], **extra}},
        "retry": {"attempts": 1},
    }


def ask(**kw: Any) -> ChatRequest:
    return ChatRequest(messages=[Message.user("hi")], routing=RoutingHints(agent="bot"), **kw)


@pytest.mark.parametrize("mode", ["sync", "async", "stream"])
def test_content_policy_refusal_follows_its_own_chain(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    monkeypatch: pytest.MonkeyPatch, mode: str,
) -> None:
    refuse_on_400(monkeypatch)
    config = three(primary, secondary, content_policy_fallbacks=["safe:moderated"])
    with Router(config, registry=echo_registry) as router:
        primary.push(Fault.status(400))
        if mode == "sync":
            result: Any = router.chat(ask())
        elif mode == "async":
            result = asyncio.run(router.achat(ask()))
        else:
            result = list(router.stream(ask()))[-1]
    assert (result.provider, result.model) == ("safe", "moderated")  # not b:m
    assert [(a.provider, a.error, a.action) for a in result.attempts] == [
        ("a", "ContentPolicyError", "fell_back"), ("safe", None, "answered")
    ]


def test_without_a_chain_a_refusal_is_raised(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refuse_on_400(monkeypatch)
    with Router(three(primary, secondary), registry=echo_registry) as router:
        primary.push(Fault.status(400))
        with pytest.raises(ContentPolicyError):
            router.chat(ask())
    assert secondary.requests == []


def test_a_dangling_chain_reference_is_a_config_error(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
) -> None:
    from polyroute.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        Router(three(primary, secondary, content_policy_fallbacks=["ghost:m"]),
               registry=echo_registry)
    assert info.value.field == "agents.bot.content_policy_fallbacks[0]"


def test_unsupported_params_are_dropped_before_the_provider_sees_them(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import echo_provider

    seen: list[float | None] = []
    original = echo_provider.EchoProvider.build_request

    def spy(self, request, model, *, stream):  # type: ignore[no-untyped-def]
        seen.append(request.params.temperature)
        return original(self, request, model, stream=stream)

    monkeypatch.setattr(echo_provider.EchoProvider, "build_request", spy)
    monkeypatch.setattr(echo_provider.EchoProvider, "supported_params",
                        frozenset({"max_tokens"}), raising=False)
    config = {**three(primary, secondary), "params_policy": "drop"}
    with Router(config, registry=echo_registry) as router:
        router.chat(ask(params=GenerationParams(temperature=0.7)))
        list(router.stream(ask(params=GenerationParams(temperature=0.7))))
    assert seen == [None, None]


def test_identical_async_calls_share_one_upstream_call(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    tmp_path: Path,
) -> None:
    config = {**three(primary, secondary), "cache": {"directory": str(tmp_path / "cache")}}
    primary.push(Fault.hang(0.3))  # the leader is slow; followers must wait for it

    async def many(router: Router) -> list[ChatResponse]:
        return await asyncio.gather(*(router.achat(ask()) for _ in range(6)))

    with Router(config, registry=echo_registry) as router:
        answers = asyncio.run(many(router))
    assert len(primary.requests) == 1
    assert {a.message.text for a in answers} == {"primary says: hi"}
    assert sum(a.cache_hit for a in answers) == 5


def test_state_backend_comes_from_config_and_close_flushes_the_ledger(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
    tmp_path: Path,
) -> None:
    config = {**three(primary, secondary),
              "state": {"backend": "sqlite", "path": str(tmp_path / "state.db")},
              "ledger": {"path": str(tmp_path / "ledger.db")}}
    router = Router(config, registry=echo_registry)
    assert isinstance(router.state, SQLiteStore)
    assert router.resilience is not None
    router.chat(ask())
    router.close()
    rows = sqlite3.connect(tmp_path / "ledger.db").execute("select count(*) from calls").fetchone()
    assert rows[0] == 1


def test_a_circuit_opening_reaches_the_alert_hook(
    primary: StandinServer, secondary: StandinServer,
) -> None:
    import echo_provider

    from polyroute import hookimpl

    seen: list[Any] = []

    class Watcher:
        @hookimpl
        def polyroute_on_alert(self, alert: Any) -> None:
            seen.append(alert)

    registry = PluginRegistry.create(load_entrypoints=False, plugins=[echo_provider, Watcher()])
    config = {**three(primary, secondary), "breaker": {"failures": 2}}
    with Router(config, registry=registry) as router:
        primary.push(Fault.status(500), Fault.status(500))
        router.chat(ask())
        router.chat(ask())
    assert [a.kind for a in seen] == ["circuit_open"]
    assert seen[0].subject == "a/m" and "circuit opened for a/m" in seen[0].message


def test_circuit_opening_between_retries_turns_the_failure_into_the_fallback(
    echo_registry: PluginRegistry, primary: StandinServer, secondary: StandinServer,
) -> None:
    config = {**three(primary, secondary), "retry": {"attempts": 3, "initial_backoff": 0},
              "breaker": {"failures": 2}}
    with Router(config, registry=echo_registry, sleep=lambda s: None) as router:
        primary.push(Fault.status(500), Fault.status(500), Fault.status(500))
        resp = router.chat(ask())
    assert [(a.provider, a.error, a.action) for a in resp.attempts] == [
        ("a", "ServerError", "retried"), ("a", "ServerError", "fell_back"), ("b", None, "answered")
    ]
    assert len(primary.requests) == 2  # the third try never happened: the circuit opened
    assert router.failover_stats()["by_route"] == {"a/m -> b/m": 1}
