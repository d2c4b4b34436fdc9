"""The Redis StateStore: the same contract as the memory and SQLite stores, atomic
across clients, with failures typed and the password never shown."""

from __future__ import annotations

import threading
import time

import pytest

from polyroute.errors import StateStoreError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.state.redis import RedisStore, masked_url
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints

Redis = tuple[str, str]


def test_get_set_delete_and_ttl(redis_url: Redis) -> None:
    url, prefix = redis_url
    store = RedisStore(url, prefix=prefix)
    store.set("k", {"state": "open", "n": 2}, ttl=0.3)
    assert store.get("k") == {"state": "open", "n": 2}
    time.sleep(0.5)
    assert store.get("k") is None  # Redis expired it
    store.set("x", [1, 2])
    store.delete("x")
    assert store.get("x") is None
    store.close()


def test_incr_keeps_the_first_ttl_and_reserve_is_all_or_nothing(redis_url: Redis) -> None:
    import redis

    url, prefix = redis_url
    store = RedisStore(url, prefix=prefix)
    raw = redis.Redis.from_url(url)
    assert store.incr("w", 2, ttl=5) == 2
    assert 0 < raw.pttl(prefix + "w") <= 5000
    assert store.incr("w", 3, ttl=100) == 5
    assert 0 < raw.pttl(prefix + "w") <= 5000  # the window keeps its first TTL
    raw.close()
    assert store.reserve("b", 6, limit=10)
    assert not store.reserve("b", 5, limit=10)
    assert store.get("b") == 6
    assert store.reserve("b", 4, limit=10)
    assert store.incr("b", -4) == 6  # settle: give back what was not spent


def test_reservations_from_many_clients_never_exceed_the_limit(redis_url: Redis) -> None:
    url, prefix = redis_url
    granted: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        own = RedisStore(url, prefix=prefix)  # its own connection, as another host would
        for _ in range(25):
            ok = own.reserve("budget", 0.7, limit=20.0)
            with lock:
                granted.append(ok)
        own.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) == 28  # floor(20 / 0.7)
    assert RedisStore(url, prefix=prefix).get("budget") == pytest.approx(28 * 0.7)


def test_an_unreachable_server_is_a_typed_error_without_the_password() -> None:
    pytest.importorskip("redis")
    url = "redis://:hunter2-s3cret@127.0.0.1:9/0"  # port 9 (discard): nothing listens
    store = RedisStore(url, timeout=0.5)
    assert "hunter2" not in repr(store)
    with pytest.raises(StateStoreError) as err:
        store.reserve("b", 1.0, limit=5.0)
    text = str(err.value)
    assert "redis://:***@127.0.0.1:9/0" in text and "reserve failed" in text
    assert "hunter2" not in text and err.value.__cause__ is None
    assert masked_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"
    assert masked_url("rediss://user:pw@host:6380/1") == "rediss://user:***@host:6380/1"


@pytest.mark.standin
def test_two_routers_share_a_circuit_through_redis(
    redis_url: Redis, echo_registry: PluginRegistry, primary: StandinServer,
    secondary: StandinServer,
) -> None:
    """Two routers (two hosts, say) on one Redis: a circuit one opens, the other skips."""
    url, prefix = redis_url
    config = {
        "providers": {"a": {"type": "echo", "base_url": primary.url},
                      "b": {"type": "echo", "base_url": secondary.url}},
        "agents": {"bot": {"model": "a:m", "fallbacks": ["b:m"]}},
        "retry": {"attempts": 1},
        "breaker": {"failures": 2, "cooldown": 60},
        "state": {"backend": "redis", "url": url, "prefix": prefix},
    }
    ask = ChatRequest(messages=[Message.user("hi")], routing=RoutingHints(agent="bot"))
    with Router(config, registry=echo_registry) as one, \
            Router(config, registry=echo_registry) as two:
        primary.push(Fault.status(500), Fault.status(500))
        assert [one.chat(ask).provider for _ in range(2)] == ["b", "b"]  # a failed twice
        seen = len(primary.requests)
        answer = two.chat(ask)
    assert answer.provider == "b"
    assert len(primary.requests) == seen  # the other router never called a
    assert [(a.provider, a.action) for a in answer.attempts] == [("b", "answered")]


def test_router_with_an_unreachable_redis_fails_at_construction() -> None:
    pytest.importorskip("redis")
    with pytest.raises(StateStoreError, match=r"ping failed"):
        Router({"providers": {}, "state": {"backend": "redis",
                                           "url": "redis://127.0.0.1:9/0"}})
