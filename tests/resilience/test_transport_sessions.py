"""Every loop-bound connection pool is closed: no "Unclosed client session" (issue 9, item 13).

A model used from two ``asyncio.run()`` calls gets one async pool per loop (an
aiohttp session by default, which serves calls and streams; an httpx ``AsyncClient``
with ``Transport(async_http="httpx")``); each must be closed by ``close()``, by
``aclose()``, or at the latest when its loop ends.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import httpx
import pytest

from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.testing.standin import StandinServer
from polyroute.transport import Transport
from polyroute.types import ChatRequest, Message, RoutingHints

REQUEST = ChatRequest(messages=[Message.user("hi")], routing=RoutingHints(model="primary:m1"))


@pytest.fixture(params=["aiohttp", "httpx"])
def router(echo_registry: PluginRegistry, primary: StandinServer,
           request: pytest.FixtureRequest) -> Iterator[Router]:
    r = Router({"providers": {"primary": {"type": "echo", "base_url": primary.url}}},
               registry=echo_registry, transport=Transport(async_http=request.param))
    yield r
    r.close()


@pytest.fixture
def pools(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Every aiohttp session and httpx async client created during the test."""
    made: list[Any] = []
    for cls in (aiohttp.ClientSession, httpx.AsyncClient):
        init = cls.__init__

        def record(self: Any, *a: Any, __init: Any = init, **kw: Any) -> None:
            __init(self, *a, **kw)
            made.append(self)

        monkeypatch.setattr(cls, "__init__", record)
    return made


def _closed(pool: Any) -> bool:
    return bool(pool.closed if isinstance(pool, aiohttp.ClientSession) else pool.is_closed)


async def _use(router: Router) -> None:
    await router.achat(REQUEST)  # opens this loop's pool
    async for _ in router.astream(REQUEST):  # the same pool
        pass


def _leaks(body: Callable[[], Any], caplog: pytest.LogCaptureFixture) -> list[str]:
    """Resource warnings and asyncio "Unclosed ..." logs while ``body`` runs and its
    garbage is collected."""
    gc.collect()  # earlier tests' garbage is not ours
    with caplog.at_level(logging.ERROR, logger="asyncio"), \
            warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        body()
        gc.collect()
    found = [str(w.message) for w in seen if issubclass(w.category, ResourceWarning)]
    return found + [r.getMessage() for r in caplog.records if "Unclosed" in r.getMessage()]


def test_two_asyncio_runs_then_close_leave_no_unclosed_session(
    router: Router, pools: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    def body() -> None:
        asyncio.run(_use(router))
        asyncio.run(_use(router))
        router.close()

    assert _leaks(body, caplog) == []
    assert len(pools) == 2  # one pool per loop, for calls and streams
    assert all(_closed(p) for p in pools)


def test_a_loop_that_ends_closes_its_session_without_close(
    router: Router, pools: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    def body() -> None:
        asyncio.run(_use(router))
        asyncio.run(_use(router))

    assert _leaks(body, caplog) == []
    assert len(pools) == 2
    assert all(_closed(p) for p in pools)  # before any close(): the loops' ends did it


def test_aclose_closes_this_loops_and_idle_loops_sessions(
    router: Router, pools: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    def body() -> None:
        idle = asyncio.new_event_loop()  # used, then left open and idle
        try:
            idle.run_until_complete(_use(router))

            async def use_then_aclose() -> None:
                await _use(router)
                await router.aclose()

            asyncio.run(use_then_aclose())
            assert all(_closed(p) for p in pools[1:])  # this loop's, by aclose
        finally:
            idle.run_until_complete(idle.shutdown_asyncgens())
            idle.close()

    assert _leaks(body, caplog) == []
    assert len(pools) == 2 and all(_closed(p) for p in pools)


def test_sync_close_closes_an_idle_loops_session_at_once(
    router: Router, pools: list[Any]
) -> None:
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(_use(router))
        assert len(pools) == 1 and not any(_closed(p) for p in pools)
        router.close()
        assert all(_closed(p) for p in pools)
    finally:
        loop.close()


@pytest.mark.parametrize("closing", ["close", "aclose"])
def test_routed_chat_model_used_from_two_asyncio_runs_closes_its_pools(
    pools: list[Any], caplog: pytest.LogCaptureFixture, closing: str
) -> None:
    from polyroute.langchain import RoutedChatModel
    from polyroute_openai.standin import OpenAIResponder

    with StandinServer(OpenAIResponder()) as server:
        llm = RoutedChatModel(
            config={"providers": {"o": {"type": "openai", "base_url": server.url + "/v1",
                                        "api_key": "sk-x"}}},
            model="o:gpt-4.1-mini",
        )

        def body() -> None:
            asyncio.run(llm.ainvoke("hi"))
            asyncio.run(llm.ainvoke("hi"))
            if closing == "close":
                llm.close()
            else:
                asyncio.run(llm.aclose())

        assert _leaks(body, caplog) == []
    sessions = [p for p in pools if isinstance(p, aiohttp.ClientSession)]
    assert len(sessions) == 2 and all(s.closed for s in sessions)
