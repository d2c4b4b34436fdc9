"""The semantic cache's ``route:NAME`` embedder: the prompt's vector comes from the
router's own embeddings route (an OpenAI embedding model on its stand-in here), so the
embedding calls are routed, priced and in the ledger; a paraphrase is served, on the
sync and the async path; a bad route is a config error naming the field."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import echo_provider
import pytest

from polyroute.cache.embedders import RoutedEmbedder
from polyroute.errors import ConfigError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.testing.embedders import BagOfWords
from polyroute.testing.standin import StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints
from polyroute_openai import embed_standin
from polyroute_openai import plugin as openai_plugin

pytest.importorskip("numpy", reason="the semantic cache needs numpy (polyroute[semantic])")
pytestmark = pytest.mark.standin
BASE = "How do I enable dark mode in VS Code?"
PARAPHRASE = "how do I enable the dark mode in VS Code"
SPACE = "openai/text-embedding-3-small@64"


@pytest.fixture
def embed_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandinServer]:
    # the stand-in's vectors are random per text; a bag of words makes paraphrases near
    words = BagOfWords()
    monkeypatch.setattr(embed_standin, "fake_vector",
                        lambda model, text, width: words.embed([text])[0][:width])
    with StandinServer(embed_standin.OpenAIEmbedResponder()) as server:
        yield server


def _router(chat_url: str, embed_url: str, tmp: Path, route: str = "docs",
            **extra: Any) -> Router:
    registry = PluginRegistry.create(load_entrypoints=False,
                                     plugins=[echo_provider, openai_plugin])
    return Router({
        "providers": {"a": {"type": "echo", "base_url": chat_url},
                      "emb": {"type": "openai", "base_url": embed_url + "/v1",
                              "api_key": "sk-embed-test-0000000000"}},
        "agents": {"bot": {"model": "a:m", "temperature": 0}},
        "embeddings": {"routes": {"docs": {"deployments": ["emb/text-embedding-3-small"],
                                           "dimensions": 64}}},
        "retry": {"attempts": 1},
        "cache": {"directory": str(tmp / "cache"), "semantic": {
            "enabled": True, "embedder": f"route:{route}", "threshold": 0.8}},
        "ledger": {"path": str(tmp / "usage.db"), "sync": True},
        **extra,
    }, registry=registry)


def _ask(text: str, **tags: str) -> ChatRequest:
    return ChatRequest(messages=[Message.user(text)],
                       routing=RoutingHints(agent="bot", tags=tags))


def _posts(server: StandinServer) -> int:
    return sum(1 for r in server.requests if r.method == "POST")


def test_a_paraphrase_is_served_with_vectors_from_the_routed_model(
        primary: StandinServer, embed_server: StandinServer, tmp_path: Path) -> None:
    with _router(primary.url, embed_server.url, tmp_path) as router:
        first = router.chat(_ask(BASE))
        near = router.chat(_ask(PARAPHRASE))
        other = router.chat(_ask("How do I disable dark mode in VS Code?"))  # the gate
    assert not first.cache_hit and near.cache_hit and not other.cache_hit
    assert near.message.content == first.message.content
    meta: dict[str, Any] = near.provider_metadata["polyroute_semantic"]
    assert meta["space"] == f"route:docs:{SPACE}"
    assert _posts(primary) == 2  # the base and the antonym went upstream
    sent = [r.json() for r in embed_server.requests]
    assert [(b["model"], b["dimensions"], b["input"]) for b in sent] == [
        ("text-embedding-3-small", 64, [t]) for t in
        (BASE, PARAPHRASE, "How do I disable dark mode in VS Code?")]  # one embed per lookup
    with sqlite3.connect(tmp_path / "usage.db") as conn:
        embeds = conn.execute("SELECT provider, cost_usd FROM calls WHERE tags LIKE ?",
                              (f"%{SPACE}%",)).fetchall()
    assert len(embeds) == 3 and all(p == "emb" and c > 0 for p, c in embeds)  # priced, recorded


def test_the_async_path_embeds_off_the_event_loop(
        primary: StandinServer, embed_server: StandinServer, tmp_path: Path) -> None:
    threads: list[int] = []
    real = RoutedEmbedder.embed

    def embed(self: RoutedEmbedder, texts: Any, tags: Any = None) -> Any:
        threads.append(threading.get_ident())
        return real(self, texts, tags)

    async def run() -> tuple[Any, Any, int]:
        async with _router(primary.url, embed_server.url, tmp_path) as router:
            return (await router.achat(_ask(BASE)), await router.achat(_ask(PARAPHRASE)),
                    threading.get_ident())

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(RoutedEmbedder, "embed", embed)
        first, near, loop_thread = asyncio.run(run())
    assert not first.cache_hit and near.cache_hit
    assert len(threads) == 2 and loop_thread not in threads  # the loop never waited on it


def test_an_unknown_route_is_a_config_error(primary: StandinServer,
                                            embed_server: StandinServer, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="names no embeddings route") as info:
        _router(primary.url, embed_server.url, tmp_path, route="nope")
    assert info.value.field == "cache.semantic.embedder"


def test_the_lookups_embedding_is_the_tenants_recorded_and_budgeted(
        primary: StandinServer, embed_server: StandinServer, tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    # acme's budget cannot take even one embedding; globex has none
    budgets = [{"scope": "tag:tenant=acme", "usd": 1e-12, "per": "day"}]
    with _router(primary.url, embed_server.url, tmp_path, budgets=budgets,
                 pricing={"overrides": {"a:m": {"input": 0, "output": 0}}}) as router:
        router.chat(_ask(BASE, tenant="globex"))
        refused = router.chat(_ask(PARAPHRASE, tenant="acme"))
    assert not refused.cache_hit  # no vector for acme: a miss, and the call went upstream
    assert "semantic cache lookup failed" in caplog.text and "acme" in caplog.text
    sent = [r.json()["input"] for r in embed_server.requests]
    assert sent == [[BASE]]  # only globex's lookup was embedded
    with sqlite3.connect(tmp_path / "usage.db") as conn:
        tenants = conn.execute("SELECT tenant FROM calls WHERE provider = 'emb'").fetchall()
    assert tenants == [("globex",)]  # the embedding is the tenant's, in the ledger too
