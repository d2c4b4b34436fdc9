"""``bump_all``: one event's advisory writes (health samples) as one step of the store
(one round trip to Redis), with the same results and repairs on every backend."""

from __future__ import annotations

import logging

import pytest

from polyroute.resilience.stored import Advisory
from polyroute.state.base import StateStore


def test_counters_sets_and_the_average_in_one_step(store: StateStore) -> None:
    values, folded = store.bump_all([("a", 1, 60), ("b", 2.5, None)], sets=[("last", 12.5)],
                                    ewma=("avg", 100.0, 0.5))
    assert values == [1.0, 2.5] and folded
    assert store.get("last") == 12.5 and store.get("avg") == 100.0  # absent: starts at x
    values, folded = store.bump_all([("a", 1, 60), ("b", -1, None)], ewma=("avg", 50.0, 0.5))
    assert values == [2.0, 1.5] and folded
    assert store.get("avg") == pytest.approx(75.0)


def test_a_corrupt_counter_or_average_is_left_alone_and_reported(store: StateStore) -> None:
    store.set("bad", "not a number")
    store.set("avg", -3)  # a latency is never negative
    values, folded = store.bump_all([("ok", 1, None), ("bad", 1, None)], ewma=("avg", 9.0, 0.5))
    assert values == [1.0, None] and not folded
    assert store.get("bad") == "not a number" and store.get("avg") == -3
    assert store.get("ok") == 1


def test_advisory_repairs_what_bump_all_reports(store: StateStore,
                                                caplog: pytest.LogCaptureFixture) -> None:
    data = Advisory(store, logging.getLogger("polyroute.test"), "health")
    store.set("bad", "x")
    store.set("neg", -5)
    store.set("avg", "junk")
    with caplog.at_level(logging.WARNING):
        data.bump_all([("bad", 1, None), ("neg", 1, None)], ewma=("avg", 8.0, 0.5))
    # as Advisory.bump and .get do: the corrupt count starts over, the average too
    assert store.get("bad") == 1 and store.get("neg") == 1 and store.get("avg") == 8.0
    assert "not a value polyroute wrote" in caplog.text


def test_redis_does_it_in_one_round_trip_and_keeps_ttls(redis_url: tuple[str, str]) -> None:
    import redis

    from polyroute.state.redis import RedisStore

    url, prefix = redis_url
    store = RedisStore(url, prefix=prefix)
    raw = redis.Redis.from_url(url)
    raw.hset(prefix + "hash", "f", "v")  # a key of another type reads as corrupt
    calls: list[object] = []
    script = store._bump_all

    def counting(*args: object, **kwargs: object) -> object:
        calls.append(args)
        return script(*args, **kwargs)

    store._bump_all = counting
    try:
        values, folded = store.bump_all([("w", 1, 5), ("hash", 1, None)],
                                        sets=[("last", [1, 2])], ewma=("hash", 3.0, 0.5))
        assert values == [1.0, None] and not folded and len(calls) == 1
        assert 0 < raw.pttl(prefix + "w") <= 5000  # created with its TTL
        store.bump_all([("w", 1, 100)])
        assert 0 < raw.pttl(prefix + "w") <= 5000  # kept after
        assert store.get("last") == [1, 2] and raw.type(prefix + "hash") == b"hash"
    finally:
        raw.close()
        store.close()


def test_health_keys_of_one_deployment_share_a_cluster_slot() -> None:
    pytest.importorskip("redis")
    from redis.cluster import key_slot

    from polyroute.state.redis_urls import hash_tagged

    keys = ["h:openai/gpt-4.1:busy", "h:openai/gpt-4.1:last", "h:openai/gpt-4.1:123:ok",
            "h:openai/gpt-4.1:123:b4", "h:openai/gpt-4.1:ewma"]
    assert len({key_slot(hash_tagged(k).encode()) for k in keys}) == 1


# --- reserve_sliding: a sliding window's read and reservation in one step --------------

def test_reserve_sliding_weighs_the_previous_window(store: StateStore) -> None:
    assert store.reserve_sliding("cur", "prev", 1, 10, 0.5, ttl=60) == (True, None)
    store.set("prev", 8)
    assert store.reserve_sliding("cur", "prev", 5, 10, 0.5) == (True, 8)  # 1 + 5 <= 10 - 4
    assert store.reserve_sliding("cur", "prev", 1, 10, 0.5) == (False, 8)  # 7 > 6
    assert store.get("cur") == 6


@pytest.mark.parametrize("text", ["01", "1.", "-0.5", "true", "[1]", '"3"', "1e999", "NaN",
                                  "-1000", "0x10"])
def test_reserve_sliding_reserves_nothing_on_a_corrupt_previous_window(
        redis_url: tuple[str, str], text: str) -> None:
    import redis

    from polyroute.errors import StateStoreError
    from polyroute.state.redis import RedisStore

    url, prefix = redis_url
    store = RedisStore(url, prefix=prefix)
    raw = redis.Redis.from_url(url)
    raw.set(prefix + "prev", text)
    try:
        try:
            done, prev = store.reserve_sliding("cur", "prev", 1, 10, 0.5)
        except StateStoreError:
            done, prev = False, None  # undecodable text: refused, typed
        else:  # what came back is what the caller refuses as not a count
            assert not ((type(prev) is float or type(prev) is int) and 0 <= prev < 1e308)
        assert not done and raw.get(prefix + "cur") is None
    finally:
        raw.close()
        store.close()


def test_reserve_sliding_takes_what_json_writes(redis_url: tuple[str, str]) -> None:
    import redis

    from polyroute.state.redis import RedisStore

    url, prefix = redis_url
    store = RedisStore(url, prefix=prefix)
    raw = redis.Redis.from_url(url)
    try:
        for text, value in [("0", 0), ("-0", 0), ("4", 4), ("4.5", 4.5), ("1e-05", 1e-05),
                            ("2E+1", 20.0)]:
            raw.set(prefix + "prev", text)
            raw.delete(prefix + "cur")
            assert store.reserve_sliding("cur", "prev", 1, 100, 1.0) == (True, value)
    finally:
        raw.close()
        store.close()
