"""Router.embed/aembed end to end against two OpenAI stand-ins (same models = same space)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from polyroute.embed_types import CrossSpaceError
from polyroute.errors import ConfigError, NoRouteError
from polyroute.testing.embed_vectors import fake_vector
from polyroute.testing.sleeps import SleepRecorder
from polyroute.testing.standin import Fault, StandinServer
from polyroute_anthropic import plugin as anthropic_plugin
from polyroute_anthropic.standin import AnthropicResponder

SMALL = "text-embedding-3-small"
ROUTE = {"default": "docs", "routes": {"docs": {
    "deployments": [f"east/{SMALL}", f"west/{SMALL}"]}}}


def paths(server: StandinServer) -> list[str]:
    return [r.path for r in server.requests]


def test_vectors_come_back_in_input_order_with_space_cost_and_provider(make_router: Any,
                                                                        east: StandinServer):
    router = make_router(ROUTE)
    texts = ["alpha beta", "gamma", "delta epsilon zeta"]
    resp = router.embed(texts)
    assert resp.vectors == [fake_vector(SMALL, t, 1536) for t in texts]
    assert resp.space == f"openai/{SMALL}@1536"
    assert resp.response_metadata["embedding_space"] == resp.space
    assert (resp.provider, resp.model) == ("east", SMALL)
    assert resp.usage.input_tokens == 6  # the stand-in counts words
    assert resp.cost_usd == pytest.approx(6 * 0.02 / 1e6)
    assert paths(east) == ["/v1/embeddings"]


def test_dimensions_are_sent_and_name_the_space(make_router: Any, east: StandinServer):
    router = make_router(ROUTE)
    resp = router.embed(["one"], dimensions=256)
    assert len(resp.vectors[0]) == 256
    assert resp.space == f"openai/{SMALL}@256"
    assert east.requests[-1].json()["dimensions"] == 256


def test_same_space_failover_succeeds(make_router: Any, east: StandinServer,
                                      west: StandinServer):
    router = make_router(ROUTE)
    east.push(Fault.status(401))
    resp = router.embed(["hello world"])
    assert (resp.provider, resp.space) == ("west", f"openai/{SMALL}@1536")
    assert [(a.provider, a.ok, a.action) for a in resp.attempts] == [
        ("east", False, "fell_back"), ("west", True, "answered")]
    assert resp.cross_space is False


def test_cross_space_fallback_is_refused_naming_both_spaces(make_router: Any,
                                                            east: StandinServer):
    router = make_router({"default": "docs", "routes": {"docs": {
        "deployments": [f"east/{SMALL}"], "fallbacks": ["west/text-embedding-3-large"]}}})
    with pytest.raises(CrossSpaceError) as info:
        router.embed(["x"])
    msg = str(info.value)
    assert f"openai/{SMALL}@1536" in msg and "openai/text-embedding-3-large@3072" in msg
    assert "allow_cross_space" in msg
    assert east.requests == []  # refused before any call


def test_explicit_model_with_a_fallback_of_another_space_is_refused(make_router: Any):
    router = make_router({})
    with pytest.raises(CrossSpaceError, match="text-embedding-ada-002@1536"):
        router.embed(["x"], model=f"east/{SMALL}", fallbacks=["west/text-embedding-ada-002"])
    # the same model elsewhere is the same space: allowed
    assert router.embed(["x"], model=f"east/{SMALL}", fallbacks=[f"west/{SMALL}"]).vectors


def test_allowed_cross_space_fallback_names_its_space_in_answer_and_ledger(
        make_router: Any, east: StandinServer, tmp_path: Path):
    router = make_router({"default": "docs", "routes": {"docs": {
        "deployments": [f"east/{SMALL}"], "fallbacks": ["west/text-embedding-3-large"],
        "allow_cross_space": True}}}, ledger={"path": str(tmp_path / "usage.db"),
                                               "sync": True})
    east.push(Fault.status(401))
    resp = router.embed(["a b", "c"])
    assert resp.cross_space is True
    assert resp.space == "openai/text-embedding-3-large@3072"
    assert resp.response_metadata["cross_space_from"] == [f"openai/{SMALL}@1536"]
    assert all(len(v) == 3072 for v in resp.vectors)
    router.close()
    rows = sqlite3.connect(tmp_path / "usage.db").execute(
        "SELECT provider, model, status, input_tokens, cost_usd, tags FROM calls").fetchall()
    ok = [r for r in rows if r[2] == "ok"]
    assert len(ok) == 1
    provider, model, _, tokens, cost, tags = ok[0]
    assert (provider, model, tokens) == ("west", "text-embedding-3-large", 3)
    assert cost == pytest.approx(3 * 0.13 / 1e6)
    assert json.loads(tags)["embedding_space"] == "openai/text-embedding-3-large@3072"


def test_never_calls_a_chat_endpoint_for_embeddings_litellm_14403(make_router: Any,
                                                                  east: StandinServer):
    """LiteLLM #14403: an embedding fallback called the chat endpoint and hung. Here a
    chat-only provider in an embedding route is skipped with the reason, and no chat
    endpoint of any server is called."""
    with StandinServer(AnthropicResponder()) as claude:
        router = make_router(
            {"default": "docs", "routes": {"docs": {
                "deployments": [f"east/{SMALL}"], "fallbacks": ["claude/claude-sonnet-4-5"],
                "allow_cross_space": True}}},
            anthropic_plugin,
            providers={"claude": {"type": "anthropic", "base_url": claude.url,
                                  "api_key": "sk-ant-x"}},
            retry={"attempts": 1})
        east.push(Fault.status(500))
        with pytest.raises(NoRouteError) as info:
            router.embed(["x"])
        assert claude.requests == []
        assert "no embeddings endpoint" in str(info.value)
        assert all(p.endswith("/embeddings") for p in paths(east))


def test_a_hanging_embedding_endpoint_is_cut_by_the_read_timeout_and_fails_over(
        make_router: Any, east: StandinServer, west: StandinServer):
    """The other half of LiteLLM #14403 (its fallback hung): a deployment that stops
    answering is cut at ``timeouts.read`` and the call moves to the same space's next
    deployment, which answers; nothing waits for the hanging server."""
    router = make_router(ROUTE, timeouts={"read": 0.5, "total": 30}, retry={"attempts": 1})
    east.push(Fault.hang(20))
    resp = router.embed(["hello world"])
    assert (resp.provider, resp.space) == ("west", f"openai/{SMALL}@1536")
    assert [(a.provider, a.error, a.action) for a in resp.attempts] == [
        ("east", "ProviderTimeoutError", "fell_back"), ("west", None, "answered")]
    assert len(resp.vectors) == 1 and resp.cross_space is False


def test_large_corpus_is_split_by_the_documented_input_limit_and_kept_in_order(
        make_router: Any, east: StandinServer):
    router = make_router({**ROUTE, "concurrency": 3})
    texts = [f"text number {i}" for i in range(5000)]
    resp = router.embed(texts, dimensions=8)
    sizes = sorted(len(r.json()["input"]) for r in east.requests)
    assert sizes == [904, 2048, 2048]  # OpenAI: at most 2048 inputs per request
    assert resp.vectors == [fake_vector(SMALL, t, 8) for t in texts]
    assert resp.response_metadata["sub_batches"] == 3
    assert resp.usage.input_tokens == 3 * 5000


def test_a_failed_sub_batch_is_retried_never_dropped(make_router: Any, east: StandinServer):
    sleeps = SleepRecorder()
    router = make_router({**ROUTE, "concurrency": 1}, sleeps=sleeps)
    texts = [f"t{i}" for i in range(3000)]
    east.push(Fault.status(500))  # the first sub-batch's first try
    resp = router.embed(texts, dimensions=4)
    assert resp.vectors == [fake_vector(SMALL, t, 4) for t in texts]
    assert len(sleeps.waits) == 1
    assert [a.action for a in resp.attempts].count("retried") == 1


def test_a_sub_batch_that_exhausts_its_space_fails_the_call(make_router: Any,
                                                            east: StandinServer,
                                                            west: StandinServer):
    router = make_router({**ROUTE, "concurrency": 1}, retry={"attempts": 1})
    east.push(Fault.status(401))
    west.push(Fault.status(401))
    with pytest.raises(NoRouteError):
        router.embed(["a", "b"])


def test_unknown_route_and_missing_default_are_config_errors(make_router: Any):
    router = make_router({})
    with pytest.raises(ConfigError, match=r"embeddings\.default"):
        router.embed(["x"])
    with pytest.raises(ConfigError, match="unknown embedding route 'nope'"):
        router.embed(["x"], route="nope")


def test_empty_text_is_refused_with_its_position():
    from pydantic import ValidationError

    from polyroute.embed_types import EmbedRequest

    with pytest.raises(ValidationError, match=r"texts\[1\] is empty"):
        EmbedRequest(texts=["a", ""])


def test_aembed_gives_the_same_vectors(make_router: Any, east: StandinServer):
    router = make_router({**ROUTE, "concurrency": 2})
    texts = [f"doc {i}" for i in range(4100)]
    resp = asyncio.run(router.aembed(texts, dimensions=4))
    assert resp.vectors == [fake_vector(SMALL, t, 4) for t in texts]
    assert len(east.requests) == 3


def test_base64_encoding_is_decoded(make_router: Any, east: StandinServer):
    router = make_router(ROUTE, providers={"east": {
        "type": "openai", "base_url": east.url + "/v1", "api_key": "sk-east-secret",
        "extra": {"embed_base64": True}}})
    resp = router.embed(["base sixty four"])
    assert east.requests[-1].json()["encoding_format"] == "base64"
    assert resp.vectors == [fake_vector(SMALL, "base sixty four", 1536)]


def test_agent_maps_to_its_embedding_route(make_router: Any, west: StandinServer):
    router = make_router({"agents": {"memory": "mem"}, "routes": {"mem": {
        "deployments": [f"west/{SMALL}"]}}})
    assert router.embed(["x"], agent="memory").provider == "west"
    with pytest.raises(ConfigError, match="agent 'other' has no embedding route"):
        router.embed(["x"], agent="other")


def test_keys_never_appear_in_embedding_errors(make_router: Any, east: StandinServer,
                                               west: StandinServer):
    router = make_router(ROUTE, retry={"attempts": 1})
    east.push(Fault.status(401, message="Incorrect API key provided: sk-east-secret"))
    west.push(Fault.status(401, message="Incorrect API key provided: sk-west-secret"))
    with pytest.raises(NoRouteError) as info:
        router.embed(["x"])
    assert "sk-east-secret" not in str(info.value) and "sk-west-secret" not in str(info.value)


def test_cohere_direct_and_cohere_on_bedrock_are_one_space() -> None:
    """The same weights at two providers: failover from Cohere's API to Bedrock keeps the
    space (and, from the stand-ins, the very same vectors)."""
    from polyroute.testing.routers import router_for
    from polyroute_bedrock import plugin as bedrock_plugin
    from polyroute_bedrock.embed_standin import BedrockEmbedResponder
    from polyroute_cohere import plugin as cohere_plugin
    from polyroute_cohere.embed_standin import CohereEmbedResponder

    with StandinServer(CohereEmbedResponder()) as co, \
            StandinServer(BedrockEmbedResponder()) as br:
        cfg = {"providers": {
            "co": {"type": "cohere", "base_url": co.url, "api_key": "co-key"},
            "br": {"type": "bedrock", "base_url": br.url, "api_key": "ABSK-0123456789",
                   "extra": {"region": "us-east-1"}}},
            "embeddings": {"default": "r", "routes": {"r": {"deployments": [
                "co/embed-english-v3.0", "br/cohere.embed-english-v3"]}}}}
        with router_for(cfg, cohere_plugin, bedrock_plugin) as router:
            direct = router.embed(["same weights"])
            co.push(*[Fault.status(503)] * 3)  # every retry of the first deployment
            moved = router.embed(["same weights"])
        assert (direct.provider, moved.provider) == ("co", "br")
        assert direct.space == moved.space == "cohere/embed-english-v3.0@1024"
        assert moved.vectors == direct.vectors


def test_an_unusable_first_space_still_makes_the_answer_cross_space(make_router: Any,
                                                                   east: StandinServer,
                                                                   west: StandinServer):
    router = make_router({"default": "docs", "routes": {"docs": {
        "deployments": [f"nokey/{SMALL}"], "fallbacks": ["west/text-embedding-3-large"],
        "allow_cross_space": True}}},
        providers={"nokey": {"type": "openai", "base_url": east.url + "/v1",
                             "api_key": "env:EMBED_TEST_UNSET_KEY"}})
    resp = router.embed(["x"])
    assert resp.cross_space is True and resp.provider == "west"
    assert resp.response_metadata["cross_space_from"] == [f"openai/{SMALL}@1536"]
    assert east.requests == []


def test_openai_compatible_templates_inherit_embeddings(make_router: Any,
                                                       east: StandinServer) -> None:
    """A vLLM server (the ``vllm`` template, type openai) serving an uncatalogued model:
    plain float encoding (not every compatible server takes base64), and the model is
    its own space unless the route names one."""
    router = make_router({"default": "local", "routes": {"local": {
        "deployments": ["vllm/BAAI/bge-m3"], "space": "BAAI/bge-m3",
        "space_dimensions": 1536}}},
        providers={"vllm": {"template": "vllm", "base_url": east.url + "/v1",
                            "api_key": "vllm-key"}})
    resp = router.embed(["local text"])
    assert east.requests[-1].path == "/v1/embeddings"
    assert "encoding_format" not in east.requests[-1].json()
    assert resp.space == "BAAI/bge-m3@1536"
    assert resp.cost_usd is None  # no known price: unknown, never $0
