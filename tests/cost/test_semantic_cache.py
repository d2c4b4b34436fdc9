"""The semantic cache: near matches served only inside their scope and through the
content gate; the gate itself; the vector indexes. The embedder here is
``polyroute.testing.embedders.BagOfWords`` (deterministic, no model): it scores
"enable X" and "disable X" as near as a real model does, which is the point.
The real model's false-hit rates are measured by ``make eval-cache``."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polyroute.cache.guard import CacheGuard
from polyroute.cache.semantic_gate import content_tokens, gate
from polyroute.cost.wiring import find_guard
from polyroute.errors import ConfigError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.testing.standin import StandinServer
from polyroute.types import ChatRequest, GenerationParams, Message, RoutingHints

np = pytest.importorskip("numpy", reason="the semantic cache needs numpy (polyroute[semantic])")

BASE = "How do I enable dark mode in VS Code?"
PARAPHRASE = "how do I enable the dark mode in VS Code"


def make_router(registry: PluginRegistry, url: str, tmp: Path, *, model: str = "a:m",
                system: str | None = None, **semantic: Any) -> Router:
    agent: dict[str, Any] = {"model": model, "temperature": 0}
    return Router({
        "providers": {"a": {"type": "echo", "base_url": url}},
        "agents": {"bot": agent},
        "retry": {"attempts": 1},
        "pricing": {"overrides": {"a:m": {"input": 1, "output": 2},
                                  "a:other": {"input": 1, "output": 2}}},
        "cache": {"directory": str(tmp / "cache"), "semantic": {
            "enabled": True, "embedder": "polyroute.testing.embedders:bag_of_words",
            "threshold": 0.8, **semantic}},
        "ledger": {"path": str(tmp / "usage.db")},
    }, registry=registry)


def ask(text: str, *, system: str | None = None, temperature: float | None = None,
        **tags: str) -> ChatRequest:
    messages = ([Message.system(system)] if system else []) + [Message.user(text)]
    params = GenerationParams(temperature=temperature) if temperature is not None else \
        GenerationParams()
    return ChatRequest(messages=messages, params=params,
                       routing=RoutingHints(agent="bot", tags=tags))


def upstream(server: StandinServer) -> int:
    return sum(1 for r in server.requests if r.method == "POST")


def test_a_paraphrase_is_served_and_a_negation_is_not(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path,
) -> None:
    with make_router(echo_registry, primary.url, tmp_path) as router:
        first = router.chat(ask(BASE))
        assert not first.cache_hit and upstream(primary) == 1
        near = router.chat(ask(PARAPHRASE))
        assert near.cache_hit and near.message.content == first.message.content
        meta = near.provider_metadata["polyroute_semantic"]
        assert meta["similarity"] >= 0.8 and meta["space"] == "test:bag-of-words:64:l2"
        assert upstream(primary) == 1
        for other in ("How do I disable dark mode in VS Code?",  # an antonym
                      "How do I not enable dark mode in VS Code?",  # a negation
                      "How do I enable dark mode in VS Code 2?",  # a number
                      "How do I enable dark mode in Vim Code?"):  # a name
            assert not router.chat(ask(other)).cache_hit, other
        assert upstream(primary) == 5
        stats = find_guard(router, CacheGuard).stats()  # type: ignore[union-attr]
        # the 4th ("Vim") scores below the threshold: refused before the gate
        assert stats["semantic_hits"] == 1 and stats["semantic_gated"] >= 3


def test_without_the_gate_the_wrong_answer_is_served(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path,
) -> None:
    """Why the gate exists: cosine alone serves "disable" the answer to "enable"."""
    with make_router(echo_registry, primary.url, tmp_path, gate=False, threshold=0.75) as router:
        router.chat(ask(BASE))
        wrong = router.chat(ask("How do I disable dark mode in VS Code?"))
        assert wrong.cache_hit


@pytest.mark.parametrize("change", ["tenant", "system", "temperature", "model"])
def test_a_near_match_never_crosses_its_scope(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path, change: str,
) -> None:
    model = "a:other" if change == "model" else "a:m"
    with make_router(echo_registry, primary.url, tmp_path) as router:
        router.chat(ask(BASE, tenant="acme", system="Be brief."))
    with make_router(echo_registry, primary.url, tmp_path, model=model) as router:
        again = ask(PARAPHRASE, tenant="other" if change == "tenant" else "acme",
                    system="Be verbose." if change == "system" else "Be brief.",
                    temperature=0.7 if change == "temperature" else None)
        assert not router.chat(again).cache_hit
        if change != "model":  # and the original scope still answers the paraphrase
            assert router.chat(ask(PARAPHRASE, tenant="acme", system="Be brief.")).cache_hit


def test_a_non_deterministic_call_opts_in_with_a_tag(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path,
) -> None:
    with make_router(echo_registry, primary.url, tmp_path) as router:
        router.chat(ask(BASE, temperature=0.9, semantic_cache="on"))
        assert not router.chat(ask(PARAPHRASE, temperature=0.9)).cache_hit
        assert router.chat(ask(PARAPHRASE, temperature=0.9, semantic_cache="on")).cache_hit


def test_entries_persist_and_expire_with_their_exact_entry(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path,
) -> None:
    with make_router(echo_registry, primary.url, tmp_path) as router:
        router.chat(ask(BASE, cache_ttl="1s"))
    with make_router(echo_registry, primary.url, tmp_path) as router:  # another process
        assert router.chat(ask(PARAPHRASE)).cache_hit
        time.sleep(1.1)  # the entry's own TTL: not a timing assertion, the data expires
        assert not router.chat(ask("how do I enable dark mode within VS Code")).cache_hit


def test_a_broken_embedder_is_a_miss_not_a_failed_call(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with make_router(echo_registry, primary.url, tmp_path) as router:
        guard = find_guard(router, CacheGuard)
        assert isinstance(guard, CacheGuard) and guard.semantic is not None

        def broken(texts: Any) -> Any:
            return [[float("nan")] * 64]

        monkeypatch.setattr(guard.semantic.embedder, "embed", broken)
        assert router.chat(ask(BASE)).message.content
        assert router.chat(ask(PARAPHRASE)).message.content


def test_a_bad_embedder_setting_is_a_config_error(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path,
) -> None:
    for name, message in (("nonsense", "unknown embedder"),
                          ("polyroute.nope:factory", "cannot load embedder"),
                          ("polyroute.testing.embedders:BagOfWordsX", "cannot load")):
        with pytest.raises(ConfigError, match=message):
            make_router(echo_registry, primary.url, tmp_path, embedder=name)


# --- the gate -----------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), [
    ("What is the capital of France?", "Tell me the capital city of France."),
    ("Retry the request 3 times", "Retry the request three times"),
    ("How do I turn on dark mode in VS Code?", "How can I enable dark mode in VS Code?"),
    ("Explain the difference between TCP and UDP", "What's the difference between TCP and UDP?"),
    ("Why does `parse_args` fail?", "Why is `parse_args` failing?"),
])
def test_paraphrases_pass_the_gate(a: str, b: str) -> None:
    assert gate(a, b) is None


@pytest.mark.parametrize(("a", "b", "reason"), [
    ("How do I enable SSO?", "How do I disable SSO?", "opposite words"),
    ("Is Python slow?", "Isn't Python slow?", "negation differs"),
    ("Is it safe to run this?", "Is it not safe to run this?", "negation differs"),
    ("Retry 3 times", "Retry 5 times", "numbers differ"),
    ("Set the timeout to 30 seconds", "Set the timeout to thirty-five seconds",
     "numbers differ"),
    ("Book a flight to Paris", "Book a flight to Lyon", "names differ"),
    ("Why does my_func raise?", "Why does my_other_func raise?", "code identifiers differ"),
    ("Translate 'good morning'", "Translate 'good night'", "quoted strings differ"),
    ("Sort the list in ascending order", "Sort the list in descending order", "opposite words"),
])
def test_what_changes_the_question_fails_the_gate(a: str, b: str, reason: str) -> None:
    assert gate(a, b) == reason


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(max_size=400), st.text(max_size=400))
def test_the_gate_takes_any_text(a: str, b: str) -> None:
    result = gate(a, b)
    assert result is None or isinstance(result, str)
    assert gate(a, a) is None


def test_the_gate_is_linear_in_the_text() -> None:
    """Work, not time: regex passes over text 10x longer make ~10x the tokens."""
    small = "Explain 3 things about `foo_bar` in Paris, not 'x'. " * 200
    big = small * 10
    assert len(content_tokens(big).identifiers) == len(content_tokens(small).identifiers)
    started = time.process_time()
    gate(big, big)
    assert time.process_time() - started < 5  # a quadratic pass would take minutes here


# --- indexes ------------------------------------------------------------------------------


def test_numpy_and_usearch_indexes_find_the_same_nearest() -> None:
    from polyroute.cache.vectors import NumpyIndex, make_index

    pytest.importorskip("usearch", reason="usearch is not installed (polyroute[semantic])")
    rng = random.Random(7)
    vectors = [[rng.gauss(0, 1) for _ in range(32)] for _ in range(500)]
    exact, hnsw = NumpyIndex(32), make_index("usearch", 32)
    for i, v in enumerate(vectors):
        exact.add(i, v)
        hnsw.add(i, v)
    exact.remove(3)
    hnsw.remove(3)
    assert len(exact) == len(hnsw) == 499
    for q in vectors[:50]:
        (k1, s1), (k2, s2) = exact.search(q, 1)[0], hnsw.search(q, 1)[0]
        assert k1 == k2 and abs(s1 - s2) < 1e-4
    assert exact.search(vectors[3], 1)[0][0] != 3
    with pytest.raises(ValueError, match="NaN"):
        exact.add(1000, [float("nan")] * 32)
    with pytest.raises(ConfigError, match="unknown vector index"):
        make_index("faiss", 32)
