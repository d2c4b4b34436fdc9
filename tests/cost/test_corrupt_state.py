"""Corrupt values in the state store (issue 9, item 2): every value read is validated;
a bad one is a typed ``StateStoreError`` naming the key and the fix, and a budget
fails closed on it — never lets calls through, never an untyped traceback."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from polyroute.errors import StateStoreError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.state.base import StateStore
from polyroute.state.memory import MemoryStore
from polyroute.state.sqlite import SQLiteStore
from polyroute.testing.standin import StandinServer
from polyroute.types import ChatRequest, GenerationParams, Message, RoutingHints

# raw text as another process, a hand edit or a bad migration could leave it
CORRUPT = ["NaN", "Infinity", "-Infinity", '"abc"', '{"a": 1}', "[1]", "true", "null-ish",
           "1e999", ""]
BUDGET_KEY = "budget:global:total"


def _poke_sqlite(path: Path, key: str, text: str) -> None:
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("INSERT OR REPLACE INTO kv (key, value, expires) VALUES (?, ?, NULL)",
                 (key, text))
    conn.close()


@pytest.mark.parametrize("text", CORRUPT)
def test_sqlite_corrupt_number_is_a_typed_error_naming_key_and_fix(
    tmp_path: Path, text: str
) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    _poke_sqlite(store.path, BUDGET_KEY, text)
    for op in (lambda: store.reserve(BUDGET_KEY, 0.001, 1.0),
               lambda: store.incr(BUDGET_KEY, 0.001),
               lambda: store.number(BUDGET_KEY)):
        with pytest.raises(StateStoreError) as err:
            op()
        msg = str(err.value)
        assert BUDGET_KEY in msg and str(store.path) in msg
        assert "DELETE FROM kv" in msg  # the fix, spelled out
    # nothing was written over the evidence
    conn = sqlite3.connect(str(store.path))
    assert conn.execute("SELECT value FROM kv WHERE key = ?", (BUDGET_KEY,)).fetchone() == (
        text,)
    conn.close()


@pytest.mark.parametrize("text", ["NaN", "Infinity", "{bad json", ""])
def test_sqlite_get_of_undecodable_text_is_typed(tmp_path: Path, text: str) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    _poke_sqlite(store.path, "cb:a/m", text)
    with pytest.raises(StateStoreError, match="cb:a/m"):
        store.get("cb:a/m")


def _poke_redis(url: str, key: str, text: str) -> None:
    import redis

    raw = redis.Redis.from_url(url)
    raw.set(key, text)
    raw.close()


@pytest.mark.parametrize("text", [*CORRUPT, "inf", "nan", "0x10", "1,5"])
def test_redis_corrupt_number_is_a_typed_error_naming_key_and_fix(
    redis_url: tuple[str, str], text: str
) -> None:
    from polyroute.state.redis import RedisStore

    url, prefix = redis_url
    store = RedisStore(url, prefix=prefix)
    _poke_redis(url, prefix + BUDGET_KEY, text)
    for op in (lambda: store.reserve(BUDGET_KEY, 0.001, 1.0),
               lambda: store.incr(BUDGET_KEY, 0.001),
               lambda: store.number(BUDGET_KEY)):
        with pytest.raises(StateStoreError) as err:
            op()
        msg = str(err.value)
        assert prefix + BUDGET_KEY in msg and "DEL" in msg, msg
    store.close()


def test_redis_wrong_type_key_is_a_typed_error(redis_url: tuple[str, str]) -> None:
    import redis

    from polyroute.state.redis import RedisStore

    url, prefix = redis_url
    raw = redis.Redis.from_url(url)
    raw.hset(prefix + BUDGET_KEY, "a", "1")
    raw.close()
    store = RedisStore(url, prefix=prefix)
    with pytest.raises(StateStoreError, match=BUDGET_KEY):
        store.reserve(BUDGET_KEY, 0.001, 1.0)
    with pytest.raises(StateStoreError, match=BUDGET_KEY):
        store.get(BUDGET_KEY)


def test_memory_store_validates_too() -> None:
    store = MemoryStore()
    store.set("k", "abc")
    with pytest.raises(StateStoreError, match="'k'"):
        store.incr("k", 1)
    with pytest.raises(StateStoreError, match="'k'"):
        store.reserve("k", 1, 10)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_amounts_and_values_are_refused_on_write(tmp_path: Path, bad: float) -> None:
    for store in (MemoryStore(), SQLiteStore(tmp_path / "w.db")):
        store.set("b", 1.0)
        with pytest.raises(StateStoreError, match="'b'"):
            store.incr("b", bad)
        with pytest.raises(StateStoreError, match="'b'"):
            store.reserve("b", bad, 10.0)
        with pytest.raises(StateStoreError, match="'b'"):
            store.reserve("b", 1.0, bad)
        with pytest.raises(StateStoreError, match="'b'"):
            store.set("b", bad)
        assert store.get("b") == 1.0


# --- a budget fails closed -------------------------------------------------------------------

CHEAP_LIMIT = 0.0001


def _router(registry: PluginRegistry, url: str, state: dict[str, Any] | StateStore) -> Router:
    cfg: dict[str, Any] = {
        "providers": {"a": {"type": "echo", "base_url": url}},
        "agents": {"bot": {"model": "a:m"}},
        "pricing": {"overrides": {"a:m": {"input": 0.001, "output": 0.001}}},
        "budgets": [{"scope": "global", "usd": CHEAP_LIMIT, "per": "total"}],
        "retry": {"attempts": 1},
    }
    if isinstance(state, dict):
        cfg["state"] = state
        return Router(cfg, registry=registry)
    return Router(cfg, registry=registry, state=state)


def _ask() -> ChatRequest:
    return ChatRequest(messages=[Message.user("hi")], params=GenerationParams(max_tokens=10),
                       routing=RoutingHints(agent="bot"))


@pytest.mark.parametrize("text", ["NaN", '"abc"', '{"a":1}', "Infinity", "-1e999"])
def test_budget_fails_closed_on_a_corrupt_sqlite_value(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path, text: str
) -> None:
    path = tmp_path / "state.db"
    SQLiteStore(path).close()
    _poke_sqlite(path, BUDGET_KEY, text)
    with _router(echo_registry, primary.url, {"backend": "sqlite", "path": str(path)}) as router:
        for _ in range(20):
            with pytest.raises(StateStoreError, match=BUDGET_KEY):
                router.chat(_ask())
    assert primary.requests == []  # not one call reached the provider


@pytest.mark.parametrize("text", ["inf", "NaN", '"abc"'])
def test_budget_fails_closed_on_a_corrupt_redis_value(
    echo_registry: PluginRegistry, primary: StandinServer, redis_url: tuple[str, str],
    text: str,
) -> None:
    url, prefix = redis_url
    _poke_redis(url, prefix + BUDGET_KEY, text)
    state = {"backend": "redis", "url": url, "prefix": prefix}
    with _router(echo_registry, primary.url, state) as router:
        for _ in range(5):
            with pytest.raises(StateStoreError, match=BUDGET_KEY):
                router.chat(_ask())
    assert primary.requests == []


def test_json_text_is_what_the_stores_write(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.incr("n", 0.5)
    conn = sqlite3.connect(str(store.path))
    (text,) = conn.execute("SELECT value FROM kv WHERE key = 'n'").fetchone()
    conn.close()
    assert json.loads(text) == 0.5


@pytest.mark.parametrize("kind", ["memory", "sqlite", "redis"])
def test_a_negative_budget_counter_is_corrupt_not_headroom(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """-$1000 under a budget key would let $1000 through: a budget's reserve refuses it."""
    store: StateStore
    if kind == "memory":
        store = MemoryStore()
    elif kind == "sqlite":
        store = SQLiteStore(tmp_path / "s.db")
    else:
        from polyroute.state.redis import RedisStore

        url, prefix = request.getfixturevalue("redis_url")
        store = RedisStore(url, prefix=prefix)
    store.set(BUDGET_KEY, -1000.0)
    with pytest.raises(StateStoreError, match=BUDGET_KEY):
        store.reserve(BUDGET_KEY, 1.0, 5.0, floor=-1e-6)
    assert store.reserve(BUDGET_KEY, 1.0, 5.0)  # without a floor (rate limits): a number
    store.set(BUDGET_KEY, -1e-12)  # float drift from settles is not corruption
    assert store.reserve(BUDGET_KEY, 1.0, 5.0, floor=-1e-6)
    store.close()


def test_budget_fails_closed_on_a_negative_counter(
    echo_registry: PluginRegistry, primary: StandinServer
) -> None:
    store = MemoryStore()
    store.set(BUDGET_KEY, -1000.0)
    with (_router(echo_registry, primary.url, store) as router,
          pytest.raises(StateStoreError, match=BUDGET_KEY)):
        router.chat(_ask())
    assert primary.requests == []


def test_a_corrupt_counter_met_while_settling_keeps_the_answer(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "state.db"
    SQLiteStore(path).close()
    _poke_sqlite(path, BUDGET_KEY + ":spent", '"abc"')  # only the settle reads this one
    with _router(echo_registry, primary.url,
                 {"backend": "sqlite", "path": str(path)}) as router:
        resp = router.chat(_ask())  # the provider answered: the answer is returned
        assert resp.provider == "a"
    assert len(primary.requests) == 1
    assert any(BUDGET_KEY + ":spent" in r.getMessage() for r in caplog.records
               if r.levelname == "ERROR")
    store = SQLiteStore(path)
    assert 0 < store.number(BUDGET_KEY) <= CHEAP_LIMIT  # the enforcing counter settled
    store.close()
