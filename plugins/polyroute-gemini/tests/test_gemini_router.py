"""End to end through ``polyroute.router.Router`` against Gemini stand-ins.

One normal answer (plain and streamed), one 429 that is retried after the
``RetryInfo`` delay, one fallback to a second stand-in, and a safety block
that is not fallen back from.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from polyroute.errors import ContentPolicyError
from polyroute.plugins.manager import PluginRegistry
from polyroute.router import Router
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints
from polyroute_gemini import plugin
from polyroute_gemini.standin import GeminiResponder

pytestmark = pytest.mark.standin

KEY = "AIzaSy-router-0000000000000000000"


class Sleeps:
    """Stands in for time.sleep / asyncio.sleep: records the waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[StandinServer, StandinServer]]:
    responder = GeminiResponder(blocked_words=("forbidden",))
    with StandinServer(responder) as main, StandinServer(GeminiResponder()) as backup:
        yield main, backup


@pytest.fixture
def setup(servers: tuple[StandinServer, StandinServer]
          ) -> Iterator[tuple[Router, StandinServer, StandinServer, Sleeps]]:
    main, backup = servers
    for s in servers:
        s.clear()
    sleeps = Sleeps()
    config: dict[str, Any] = {
        "providers": {
            "gemini": {"type": "gemini", "base_url": main.url, "api_key": KEY},
            "vertex": {"type": "vertex_gemini", "base_url": backup.url, "api_key": KEY,
                       "project": "demo", "extra": {"location": "us-east1"}},
        },
        "agents": {"bot": {"model": "gemini:gemini-2.5-flash",
                           "fallbacks": ["vertex:gemini-2.5-flash"]}},
        "retry": {"attempts": 2, "initial_backoff": 0.1},
        "timeouts": {"read": 2, "total": 20},
    }
    registry = PluginRegistry.create(load_entrypoints=False, plugins=[plugin])
    router = Router(config, registry=registry, sleep=sleeps, asleep=sleeps.asleep)
    yield router, main, backup, sleeps
    router.close()
    # Free the router's reference cycles (tracebacks holding generator frames) here:
    # on CPython 3.11.7 a finalizer run by the GC inside ast.parse makes it fail with
    # "AST constructor recursion depth mismatch" (a CPython bug), which a later lazy
    # import under pytest's assertion rewriting (pytest-recording's) would hit.
    gc.collect()


Setup = tuple[Router, StandinServer, StandinServer, Sleeps]


def ask(text: str = "What is 2+2?") -> ChatRequest:
    return ChatRequest(messages=[Message.user(text)], routing=RoutingHints(agent="bot"))


def test_normal_answer(setup: Setup) -> None:
    router, main, backup, _ = setup
    resp = router.chat(ask())
    assert resp.provider == "gemini" and resp.model == "gemini-2.5-flash"
    assert resp.message.text == "Hello from the Gemini stand-in: What is 2+2?"
    assert [(a.provider, a.action) for a in resp.attempts] == [("gemini", "answered")]
    assert resp.cost_usd is not None and resp.cost_usd > 0  # catalog prices applied
    chunks = list(router.stream(ask()))
    assert "".join(c.text for c in chunks) == "Hello from the Gemini stand-in: What is 2+2?"
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage is not None
    assert len(main.requests) == 2 and not backup.requests


def test_429_is_retried_after_retry_info(setup: Setup) -> None:
    router, main, _, sleeps = setup
    main.push(Fault.status(429))
    resp = router.chat(ask())
    assert resp.provider == "gemini"
    assert [(a.error, a.action) for a in resp.attempts] == [
        ("RateLimitError", "retried"), (None, "answered")]
    assert sleeps.waits and sleeps.waits[0] >= 0.02


def test_falls_back_to_the_other_standin(setup: Setup) -> None:
    router, main, backup, _ = setup
    main.push(Fault.status(500), Fault.status(500))
    resp = router.chat(ask())
    assert resp.provider == "vertex"
    assert [a.error for a in resp.attempts] == ["ServerError", "ServerError", None]
    assert resp.attempts[1].action == "fell_back"
    assert backup.requests[-1].path.startswith("/v1/projects/demo/locations/us-east1/")


async def test_async_answer(setup: Setup) -> None:
    router, *_ = setup
    resp = await router.achat(ask("hi"))
    assert resp.message.text == "Hello from the Gemini stand-in: hi"


def test_safety_block_does_not_fall_back(setup: Setup) -> None:
    router, _, backup, _ = setup
    with pytest.raises(ContentPolicyError):
        router.chat(ask("the forbidden question"))
    assert not backup.requests
