"""LangChain and LlamaIndex answers carry the call id and variant, and their adapters
send feedback for an answer they returned."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from polyroute.ledger.feedback import FeedbackError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.testing.standin import StandinServer

pytestmark = pytest.mark.standin


def feedback_rows(db: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT call_id, score, label FROM feedback").fetchall()


def test_langchain_message_metadata_and_feedback(
        server: StandinServer, registry: PluginRegistry, make_config: Any, tmp_path: Path
) -> None:
    pytest.importorskip("langchain_core")
    from polyroute.langchain import RoutedChatModel

    db = tmp_path / "u.db"
    with Router(make_config(server.url, db), registry=registry) as router:
        llm = RoutedChatModel(router=router, agent="bot", routing_tags={"user": "carol"})
        msg = llm.invoke("hello")
        meta = msg.response_metadata["polyroute"]
        assert meta["experiment"] == "summary" and meta["variant"] in ("control", "mini")
        llm.feedback(msg, score=1.0, label="thumbs_up")
        llm.feedback(meta["call_id"], score=0.5)
        with pytest.raises(FeedbackError, match="carries no polyroute call_id"):
            llm.feedback(object(), score=1.0)
    assert feedback_rows(db) == [(meta["call_id"], 1.0, "thumbs_up"),
                                 (meta["call_id"], 0.5, None)]


async def test_llamaindex_response_metadata_and_afeedback(
        server: StandinServer, registry: PluginRegistry, make_config: Any, tmp_path: Path
) -> None:
    pytest.importorskip("llama_index.core")
    from llama_index.core.llms import ChatMessage

    from polyroute.llamaindex import RoutedLLM

    db = tmp_path / "u.db"
    with Router(make_config(server.url, db), registry=registry) as router:
        llm = RoutedLLM(router=router, agent="bot")
        resp = await llm.achat([ChatMessage(role="user", content="hello")])
        info = resp.additional_kwargs["polyroute"]
        assert info["experiment"] == "summary" and info["call_id"]
        await llm.afeedback(resp, score=0.0, label="wrong")
    assert feedback_rows(db) == [(info["call_id"], 0.0, "wrong")]


def test_a_streamed_answer_carries_the_variant_and_call_id(
        server: StandinServer, registry: PluginRegistry, make_config: Any, tmp_path: Path
) -> None:
    pytest.importorskip("langchain_core")
    from polyroute.langchain import RoutedChatModel
    from polyroute.types import ChatRequest, Message, RoutingHints

    db = tmp_path / "u.db"
    with Router(make_config(server.url, db), registry=registry) as router:
        chunks = list(router.stream(ChatRequest(
            messages=[Message.user("hi")], routing=RoutingHints(agent="bot",
                                                                tags={"user": "dan"}))))
        final = chunks[-1]
        assert final.experiment == "summary" and final.variant in ("control", "mini")
        assert final.call_id
        llm = RoutedChatModel(router=router, agent="bot", routing_tags={"user": "dan"})
        last = list(llm.stream("hello"))[-1]
        meta = last.response_metadata["polyroute"]
        assert meta["variant"] == final.variant and meta["call_id"]
        llm.feedback(last, score=0.25)
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT c.variant, f.score FROM feedback f JOIN calls c "
                              "ON c.id = f.call_id").fetchall()
    assert stored == [(final.variant, 0.25)]


def test_a_llamaindex_stream_ends_with_the_call_id(
        server: StandinServer, registry: PluginRegistry, make_config: Any, tmp_path: Path
) -> None:
    pytest.importorskip("llama_index.core")
    from llama_index.core.llms import ChatMessage

    from polyroute.llamaindex import RoutedLLM

    db = tmp_path / "u.db"
    with Router(make_config(server.url, db), registry=registry) as router:
        llm = RoutedLLM(router=router, agent="bot")
        last = list(llm.stream_chat([ChatMessage(role="user", content="hello")]))[-1]
        info = last.additional_kwargs["polyroute"]
        assert info["experiment"] == "summary" and info["call_id"]
        llm.feedback(last, score=1.0)
    assert feedback_rows(db) == [(info["call_id"], 1.0, None)]
