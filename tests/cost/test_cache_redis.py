"""The response cache on Redis: JSON text only, TTL, namespaces, tenants kept
apart, and N processes asking the same thing at once make one upstream call."""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

import pytest
from cache_flight import ask_once

from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.testing.standin import StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints

Redis = tuple[str, str]
pytest.importorskip("redis")


def test_json_text_only_ttl_and_namespaces(redis_url: Redis) -> None:
    import redis

    from polyroute.cache.redis_store import RedisResponseCache

    url, prefix = redis_url
    cache = RedisResponseCache(url, prefix=prefix, namespace="prod")
    cache.set("k1", '{"a": 1}', ttl=30, tag="prod")
    assert cache.get("k1") == '{"a": 1}'
    with pytest.raises(TypeError, match="JSON text only"):
        cache.set("k2", {"a": 1}, ttl=30)  # type: ignore[arg-type]
    raw = redis.Redis.from_url(url)
    assert 0 < raw.pttl(f"{prefix}prod:k1") <= 30_000
    raw.set(f"{prefix}staging:k1", "other namespace")
    assert cache.clear("prod") == 1 and cache.get("k1") is None
    assert raw.get(f"{prefix}staging:k1") == b"other namespace"  # untouched
    raw.close()
    assert cache.claim("q", 5) and not cache.claim("q", 5) and cache.leased("q")
    other = RedisResponseCache(url, prefix=prefix, namespace="prod")
    other.release("q")  # not its lease: left alone
    assert cache.leased("q")
    cache.release("q")
    assert not cache.leased("q")
    cache.close()
    other.close()


class _Counting:
    """Echo answers, counted; the first waits for ``gate`` (so others overlap it)."""

    def __init__(self) -> None:
        from echo_provider import EchoResponder

        self.inner = EchoResponder("upstream")
        self.calls = 0
        self.gate = threading.Event()
        self.lock = threading.Lock()

    def answer(self, request: Any) -> Any:
        with self.lock:
            self.calls += 1
        self.gate.wait(60)
        return self.inner.answer(request)


@pytest.mark.standin
def test_tenants_get_their_own_entries(redis_url: Redis, echo_registry: PluginRegistry,
                                       primary: StandinServer) -> None:
    url, prefix = redis_url
    config = {"providers": {"a": {"type": "echo", "base_url": primary.url}},
              "agents": {"bot": {"model": "a:m"}},
              "cache": {"backend": "redis", "url": url, "prefix": prefix}}

    def ask(tenant: str) -> ChatRequest:
        return ChatRequest(messages=[Message.user("hi")],
                           routing=RoutingHints(agent="bot", tags={"tenant": tenant}))

    with Router(config, registry=echo_registry) as one, \
            Router(config, registry=echo_registry) as two:
        assert not one.chat(ask("acme")).cache_hit
        assert two.chat(ask("acme")).cache_hit  # another worker, same tenant: shared
        assert not two.chat(ask("globex")).cache_hit  # another tenant: never shared
    assert len(primary.requests) == 2


@pytest.mark.standin
def test_n_processes_asking_the_same_thing_make_one_upstream_call(redis_url: Redis) -> None:
    url, prefix = redis_url
    responder = _Counting()
    n = 4
    ctx = multiprocessing.get_context("spawn")
    barrier, events = ctx.Barrier(n), ctx.Queue()
    with StandinServer(responder) as server:
        procs = [ctx.Process(target=ask_once, args=(server.url, url, prefix, barrier, events))
                 for _ in range(n)]
        for p in procs:
            p.start()
        got: list[Any] = []
        # every process but the one calling upstream says it waits on the shared lease
        while sum(1 for e in got if e == "waiting") < n - 1:
            got.append(events.get(timeout=120))
        responder.gate.set()
        while sum(1 for e in got if isinstance(e, tuple)) < n:
            got.append(events.get(timeout=120))
        for p in procs:
            p.join(30)
            assert p.exitcode == 0
    answers = [e for e in got if isinstance(e, tuple)]
    assert responder.calls == 1  # one upstream call for the whole fleet
    assert len({text for _, text, _ in answers}) == 1
    assert sum(1 for *_, hit in answers if hit) == n - 1


def test_cache_stats_and_clear_read_the_redis_cache(redis_url: Redis, tmp_path: Any,
                                                    echo_registry: PluginRegistry) -> None:
    import json

    from click.testing import CliRunner

    from polyroute.cache.redis_store import RedisResponseCache
    from polyroute.cli import main

    url, prefix = redis_url
    cache = RedisResponseCache(url, prefix=prefix, namespace="prod")
    for i in range(3):
        cache.set(f"k{i}", "{}", ttl=60, tag="prod")
    assert cache.claim("k9", 60)  # an in-flight lease is not an entry
    cache.close()
    cfg = tmp_path / "polyroute.yaml"
    cfg.write_text(json.dumps({"providers": {}, "cache": {
        "backend": "redis", "url": url, "prefix": prefix, "namespace": "prod"}}))
    run = CliRunner().invoke
    stats = json.loads(run(main, ["cache", "stats", "-c", str(cfg), "--json"],
                           obj=echo_registry).output)
    assert stats["entries"] == 3 and stats["namespaces"] == {"prod": 3}
    assert stats["backend"] == "redis"
    table = run(main, ["cache", "stats", "-c", str(cfg)], obj=echo_registry)
    assert "Redis" in table.output and "namespace prod" in table.output
    cleared = run(main, ["cache", "clear", "-c", str(cfg), "--namespace", "prod", "-y"],
                  obj=echo_registry)
    assert cleared.exit_code == 0 and "removed 3 cache entries" in cleared.output


@pytest.mark.standin
def test_an_answer_stored_just_before_the_lease_goes_is_still_a_hit(
        redis_url: Redis, echo_registry: PluginRegistry, primary: StandinServer) -> None:
    """A waiter reads "no answer", then "no lease": the leader stored its answer and
    dropped its lease between those two reads. The waiter must read again and share the
    answer, not call upstream a second time (a fleet-wide flake before the fix)."""
    from polyroute.cache.redis_store import RedisResponseCache

    url, prefix = redis_url
    config = {"providers": {"a": {"type": "echo", "base_url": primary.url}},
              "agents": {"bot": {"model": "a:m"}},
              "cache": {"backend": "redis", "url": url, "prefix": prefix}}
    ask = ChatRequest(messages=[Message.user("asked twice")], routing=RoutingHints(agent="bot"))
    with Router({**config, "cache": {**config["cache"], "prefix": prefix + "elsewhere:"}},
                registry=echo_registry) as first:
        first.chat(ask)  # an answer to store, as the leader would have stored it
        guard = next(g for g in first.guards if type(g).__name__ == "CacheGuard")
        key = guard.key_for(ask)
        text = guard.store.get(key)
    assert key is not None and text is not None and len(primary.requests) == 1
    leader = RedisResponseCache(url, prefix=prefix)
    assert leader.claim(key, 60)  # another process is calling upstream
    with Router(config, registry=echo_registry) as waiter:
        store = next(g for g in waiter.guards if type(g).__name__ == "CacheGuard").store
        real = type(store).leased

        def leader_finishes_first(self: Any, k: str) -> bool:
            leader.set(k, text, 3600)  # the leader stores its answer...
            leader.release(k)  # ...then drops its lease, between the waiter's two reads
            return real(self, k)

        type(store).leased = leader_finishes_first  # type: ignore[method-assign]
        try:
            answer = waiter.chat(ask)
        finally:
            type(store).leased = real  # type: ignore[method-assign]
    leader.close()
    assert answer.cache_hit
    assert len(primary.requests) == 1  # nobody called upstream again
