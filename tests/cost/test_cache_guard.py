"""The response cache: keys, tenants, pickles refused, streams, bypass, single-flight, ledger."""

from __future__ import annotations

import asyncio
import logging
import os
import sqlite3
import stat
import threading
from pathlib import Path
from typing import Any

import diskcache
import pytest

from polyroute.cache import ResponseCache, cache_key
from polyroute.cache.guard import CacheGuard
from polyroute.config.cost import CacheConfig
from polyroute.cost.wiring import find_guard
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import (
    ChatRequest,
    ChatResponse,
    GenerationParams,
    Message,
    ResponseFormat,
    RoutingHints,
    TextPart,
    ToolCallPart,
    ToolSpec,
    Usage,
)


def make_router(registry: PluginRegistry, url: str, tmp: Path, **cache: Any) -> Router:
    return Router({
        "providers": {"a": {"type": "echo", "base_url": url}},
        "agents": {"bot": {"model": "a:m", "temperature": 0.2}},
        "pricing": {"overrides": {"a:m": {"input": 1, "output": 2}}},
        "retry": {"attempts": 1},
        "cache": {"directory": str(tmp / "cache"), **cache},
        "ledger": {"path": str(tmp / "usage.db")},
    }, registry=registry)


def ask(text: str = "hi", cache: Any = "default", **tags: str) -> ChatRequest:
    return ChatRequest(messages=[Message.user(text)],
                       routing=RoutingHints(agent="bot", cache=cache, tags=tags))


def guard_of(router: Router) -> CacheGuard:
    g = find_guard(router, CacheGuard)
    assert isinstance(g, CacheGuard)
    return g


# --- keys --------------------------------------------------------------------------------


def key(req: ChatRequest, tenant: str | None = None, route: Any = (("a/m",),)) -> str:
    return cache_key(req, namespace="ns", tenant=tenant, route=route)


def test_output_affecting_parameters_change_the_key() -> None:
    base = ChatRequest(messages=[Message.user("hi")])
    variants = [
        base.model_copy(update={"params": GenerationParams(temperature=0.7)}),
        base.model_copy(update={"params": GenerationParams(max_tokens=5)}),
        base.model_copy(update={"params": GenerationParams(stop=["x"])}),
        base.model_copy(update={"params": GenerationParams(seed=1)}),
        base.model_copy(update={"params": GenerationParams(extra={"reasoning_effort": "high"})}),
        base.model_copy(update={"tools": [ToolSpec(name="f")]}),
        base.model_copy(update={"tool_choice": "required"}),
        base.model_copy(update={"response_format": ResponseFormat(type="json_object")}),
        base.model_copy(update={"messages": [Message.system("be terse"), Message.user("hi")]}),
    ]
    keys = {key(base)} | {key(v) for v in variants}
    assert len(keys) == 1 + len(variants)
    assert key(base, route=(("b/m",),)) != key(base)  # another route, another answer
    assert key(base, tenant="t1") != key(base, tenant="t2") != key(base)
    assert len(key(base)) == 64 and "hi" not in key(base)  # a hash, never the payload


def test_what_does_not_affect_the_answer_does_not_change_the_key() -> None:
    a = ChatRequest(messages=[Message.user("hi")],
                    params=GenerationParams(extra={"x": 1, "y": 2}))
    b = ChatRequest(messages=[Message.user("hi")],
                    params=GenerationParams(extra={"y": 2, "x": 1}), stream=True,
                    routing=RoutingHints(tags={"team": "z"}, max_latency_ms=5))
    assert key(a) == key(b)


# --- through the router ---------------------------------------------------------------------


def test_hit_costs_nothing_and_is_in_the_ledger_with_the_cost_saved(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path
) -> None:
    with make_router(echo_registry, primary.url, tmp_path) as router:
        first = router.chat(ask())
        second = router.chat(ask())
        guard_of(router).cost.ledger.flush()  # type: ignore[union-attr]
    assert len(primary.requests) == 1
    assert not first.cache_hit and first.cost_usd == pytest.approx(9e-6)
    assert second.cache_hit and second.cost_usd == 0.0 and second.attempts == []
    assert second.message.text == first.message.text and second.usage == first.usage
    conn = sqlite3.connect(tmp_path / "usage.db")
    got = conn.execute("SELECT status, cost_usd, cost_saved_usd, cache_hit FROM calls").fetchall()
    assert got == [("ok", pytest.approx(9e-6), None, 0), ("cache_hit", 0.0,
                                                           pytest.approx(9e-6), 1)]


def test_tenants_never_see_each_others_entries(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path
) -> None:
    with make_router(echo_registry, primary.url, tmp_path) as router:
        assert not router.chat(ask(tenant="acme")).cache_hit
        assert not router.chat(ask(tenant="globex")).cache_hit
        assert not router.chat(ask()).cache_hit
        assert router.chat(ask(tenant="acme")).cache_hit
        assert router.chat(ask(tenant="globex")).cache_hit
    assert len(primary.requests) == 3


def test_a_pickled_entry_is_refused_never_loaded(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with make_router(echo_registry, primary.url, tmp_path) as router:
        k = guard_of(router).key_for(ask())
        assert k is not None

        class Boom:
            def __reduce__(self) -> Any:
                return (os.system, ("echo pwned > " + str(tmp_path / "pwned"),))

        plain = diskcache.Cache(str(tmp_path / "cache"))  # what an attacker could write
        plain.set(k, Boom())
        plain.close()
        with caplog.at_level(logging.WARNING, logger="polyroute.cache"):
            resp = router.chat(ask())
        assert not resp.cache_hit and len(primary.requests) == 1
        assert not (tmp_path / "pwned").exists()
        assert any("refused cache entry" in r.getMessage() for r in caplog.records)
        assert guard_of(router).store.refused == 1
        assert router.chat(ask()).cache_hit  # replaced by a JSON entry


def test_stream_fills_the_cache_and_a_hit_replays_the_same_text(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path
) -> None:
    with make_router(echo_registry, primary.url, tmp_path) as router:
        original = list(router.stream(ask("tell me a story")))
        replayed = list(router.stream(ask("tell me a story")))
        plain = router.chat(ask("tell me a story"))

        async def async_replay() -> list[Any]:
            return [c async for c in router.astream(ask("tell me a story"))]

        areplayed = asyncio.run(async_replay())
    assert len(primary.requests) == 1
    assert len(original) > 3  # several word chunks upstream
    text = "".join(c.text for c in original)
    assert "".join(c.text for c in replayed) == text == plain.message.text
    assert "".join(c.text for c in areplayed) == text
    assert replayed[-1].cache_hit and replayed[-1].cost_usd == 0.0
    assert replayed[-1].usage == original[-1].usage
    assert not original[-1].cache_hit


def test_no_cache_no_store_and_per_call_ttl(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path
) -> None:
    with make_router(echo_registry, primary.url, tmp_path) as router:
        assert not router.chat(ask("x", cache="no-store")).cache_hit
        assert not router.chat(ask("x")).cache_hit  # no-store stored nothing
        assert not router.chat(ask("x", cache="no-cache")).cache_hit  # skipped the lookup
        assert router.chat(ask("x")).cache_hit
        assert not router.chat(ask("y", cache_ttl="1s")).cache_hit
        assert router.chat(ask("y")).cache_hit  # well within the second, even under load
        import time

        time.sleep(1.05)
        assert not router.chat(ask("y")).cache_hit  # expired
    assert len(primary.requests) == 5


def test_tool_call_answers_are_cached_only_when_opted_in(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path
) -> None:
    calls = ChatResponse(
        message=Message(role="assistant", content=[
            ToolCallPart(id="c1", name="lookup", arguments={"q": "x"})]),
        finish_reason="tool_calls", usage=Usage(input_tokens=5, output_tokens=3),
        provider="a", model="m",
    )
    text = ChatResponse(message=Message(role="assistant", content=[TextPart(text="ok")]),
                        finish_reason="stop", provider="a", model="m")
    refused = ChatResponse(message=Message.assistant("no"), finish_reason="content_filter",
                           provider="a", model="m")
    for opt_in, expected in [(False, {"text"}), (True, {"text", "calls"})]:
        with make_router(echo_registry, primary.url, tmp_path / str(opt_in),
                         cache_tool_calls=opt_in) as router:
            guard = guard_of(router)
            stored = set()
            for name, resp in [("calls", calls), ("text", text), ("refused", refused)]:
                req = ask(name)
                guard.after_call(req, resp)
                if guard.store.get(guard.key_for(req) or "") is not None:
                    stored.add(name)
            assert stored == expected


# --- single flight --------------------------------------------------------------------------


def test_identical_concurrent_requests_share_one_upstream_call(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path
) -> None:
    primary.push(Fault.hang(0.4))
    with make_router(echo_registry, primary.url, tmp_path) as router:
        results: list[ChatResponse] = []
        lock = threading.Lock()

        def call() -> None:
            resp = router.chat(ask("same"))
            with lock:
                results.append(resp)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert guard_of(router).shared == 7
    assert len(primary.requests) == 1
    assert {r.message.text for r in results} == {"primary says: same"}
    assert sorted(r.cache_hit for r in results) == [False] + [True] * 7


def test_async_followers_wait_on_the_loop_for_the_leader(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path
) -> None:
    answer = ChatResponse(message=Message.assistant("shared"), finish_reason="stop",
                          provider="a", model="m", usage=Usage(input_tokens=1, output_tokens=1))
    with make_router(echo_registry, primary.url, tmp_path) as router:
        guard = guard_of(router)
        leader = ask("async")
        assert guard.before_call(leader) is None  # a miss: this call leads

        async def scenario() -> list[ChatResponse | None]:
            followers = [asyncio.create_task(guard.abefore_call(ask("async"))) for _ in range(5)]
            await asyncio.sleep(0.05)
            assert not any(f.done() for f in followers)  # waiting, loop not blocked
            guard.after_call(leader, answer)
            return await asyncio.gather(*followers)

        got = asyncio.run(scenario())
    assert all(r is not None and r.cache_hit and r.message.text == "shared" for r in got)


def test_followers_go_upstream_when_the_leader_fails(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path
) -> None:
    with make_router(echo_registry, primary.url, tmp_path) as router:
        guard = guard_of(router)
        leader = ask("fails")
        assert guard.before_call(leader) is None
        box: list[Any] = []
        t = threading.Thread(target=lambda: box.append(guard.before_call(ask("fails"))))
        t.start()
        guard.call_failed(leader, RuntimeError("upstream down"))
        t.join(5)
        assert box == [None]


# --- the folder ------------------------------------------------------------------------------


def test_the_cache_folder_is_owner_only(tmp_path: Path) -> None:
    fresh = ResponseCache(tmp_path / "fresh")
    assert stat.S_IMODE((tmp_path / "fresh").stat().st_mode) == 0o700
    fresh.close()
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o777)
    os.chmod(loose, 0o777)
    ResponseCache(loose).close()
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700
    with pytest.raises(TypeError, match="JSON text only"):
        fresh = ResponseCache(tmp_path / "fresh")
        fresh._cache.set("k" * 64, {"not": "text"})


def test_config_durations() -> None:
    assert CacheConfig(ttl="1h").ttl == 3600
    assert CacheConfig(ttl=None).ttl is None
    with pytest.raises(ValueError, match="not a duration"):
        CacheConfig(ttl="soon")
