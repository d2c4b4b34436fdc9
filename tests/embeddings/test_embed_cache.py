"""The per-text embedding cache: second pass free, keyed by space + text + input_type,
partitioned by tenant, JSON only (a tampered row is a miss, never an answer)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from polyroute.errors import ConfigError
from polyroute.testing.embed_vectors import fake_vector
from polyroute.testing.standin import StandinServer

SMALL = "text-embedding-3-small"
ROUTE = {"default": "docs", "cache": True,
         "routes": {"docs": {"deployments": [f"east/{SMALL}"]}}}


def cached_router(make_router: Any, tmp_path: Path) -> Any:
    return make_router(ROUTE, cache={"directory": str(tmp_path / "cache")},
                       ledger={"path": str(tmp_path / "usage.db"), "sync": True})


def test_re_embedding_a_corpus_costs_nothing_the_second_time(make_router: Any,
                                                             east: StandinServer,
                                                             tmp_path: Path):
    router = cached_router(make_router, tmp_path)
    corpus = [f"paragraph {i} of the handbook" for i in range(50)]
    first = router.embed(corpus, dimensions=16)
    assert first.cost_usd is not None and first.cost_usd > 0 and first.cache_hits == 0
    calls = len(east.requests)
    second = router.embed(corpus, dimensions=16)
    assert second.vectors == first.vectors
    assert (second.cost_usd, second.cache_hits, second.provider) == (0.0, 50, "")
    assert len(east.requests) == calls  # nothing sent
    # a half-new corpus pays only for the new half
    third = router.embed(corpus[:25] + [f"new {i}" for i in range(25)], dimensions=16)
    assert third.cache_hits == 25
    assert east.requests[-1].json()["input"] == [f"new {i}" for i in range(25)]
    router.close()
    spent = sqlite3.connect(tmp_path / "usage.db").execute(
        "SELECT COUNT(*), SUM(input_tokens) FROM calls WHERE status = 'ok'").fetchone()
    assert spent == (2, 50 * 5 + 25 * 2)  # two provider calls in the ledger, none for hits


def test_the_key_holds_space_and_input_type(make_router: Any, east: StandinServer,
                                            tmp_path: Path):
    router = cached_router(make_router, tmp_path)
    router.embed(["same text"], dimensions=16)
    router.embed(["same text"], dimensions=32)  # another space
    router.embed(["same text"], dimensions=16, input_type="query")  # another input type
    assert len(east.requests) == 3
    assert router.embed(["same text"], dimensions=32).cache_hits == 1


def test_tenants_never_share_entries(make_router: Any, east: StandinServer, tmp_path: Path):
    router = cached_router(make_router, tmp_path)
    router.embed(["secret plan"], tags={"tenant": "acme"})
    assert router.embed(["secret plan"], tags={"tenant": "globex"}).cache_hits == 0
    assert router.embed(["secret plan"], tags={"tenant": "acme"}).cache_hits == 1


def test_no_cache_and_no_store(make_router: Any, east: StandinServer, tmp_path: Path):
    router = cached_router(make_router, tmp_path)
    router.embed(["x"])
    assert router.embed(["x"], cache="no-cache").cache_hits == 0
    assert router.embed(["y"], cache="no-store").cache_hits == 0
    assert router.embed(["y"]).cache_hits == 0  # no-store stored nothing


def test_a_tampered_entry_is_a_miss(make_router: Any, east: StandinServer, tmp_path: Path):
    from polyroute.cache.embed_cache import embed_cache_key
    from polyroute.embed_types import EmbeddingSpace

    router = cached_router(make_router, tmp_path)
    router.embed(["x"], dimensions=4)
    store = router._embedding_cache().store
    key = embed_cache_key(EmbeddingSpace(f"openai/{SMALL}", 4), "x", None,
                          namespace="default", tenant=None)
    for bad in ('[1, 2, "three", 4]', "[NaN, 0, 0, 0]", "[1, 2]", "{}", "not json"):
        store.set(key, bad, None)
        resp = router.embed(["x"], dimensions=4)
        assert resp.cache_hits == 0
        assert resp.vectors == [fake_vector(SMALL, "x", 4)]


def test_cache_without_a_cache_section_is_a_config_error(make_router: Any):
    router = make_router(ROUTE)
    with pytest.raises(ConfigError, match="no response cache"):
        router.embed(["x"])
