"""An embedding call leaves no reference cycle behind, answered or not (the chat paths'
check is tests/routing/test_no_reference_cycles.py; why it matters, docs/benchmark.md
"2026-12-05 05:30"). Over the real transport against two OpenAI stand-ins: failed
attempts' errors are released when the call ends (``Call.release`` in the embeddings
loop), or their tracebacks keep a cycle through the frames that raised them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from polyroute.errors import ContentPolicyError, NoRouteError
from polyroute.testing.cycles import left_in_cycles
from polyroute.testing.sleeps import SleepRecorder
from polyroute.testing.standin import Fault, Reply, StandinRequest, StandinServer

CALLS = 20
SMALL = "text-embedding-3-small"
ROUTE = {"default": "docs", "routes": {"docs": {
    "deployments": [f"east/{SMALL}", f"west/{SMALL}"]}}}


def refusing(server: StandinServer) -> Callable[[StandinRequest, int, str], Reply]:
    """``server``'s errors, but a 400 is OpenAI's refusal on content-policy grounds (not
    fallen back from: raised as it is)."""
    usual = server.responder.error

    def error(request: StandinRequest, status: int, message: str) -> Reply:
        return policy_refusal(message) if status == 400 else usual(request, status, message)

    return error


def policy_refusal(message: str) -> Reply:
    return Reply.json({"error": {"message": message, "type": "invalid_request_error",
                                 "param": None, "code": "content_policy_violation"}},
                      status=400)


def scenarios(router: Any, east: StandinServer, west: StandinServer
              ) -> dict[str, Callable[[], Any]]:
    """Failures are caught with plain ``except``: ``pytest.raises`` clears the frames
    of what it catches, which would hide a cycle through them."""

    def failed() -> None:
        east.push(Fault.status(401))
        west.push(Fault.status(401))
        try:
            router.embed(["a", "b"])
        except NoRouteError:
            return
        raise AssertionError("the call did not fail")

    def fallback() -> None:
        east.push(Fault.status(401))
        assert router.embed(["hello"]).provider == "west"

    def retried() -> None:
        east.push(Fault.status(500))
        actions = [a.action for a in router.embed(["hello"]).attempts]
        assert actions == ["retried", "answered"], actions

    def refused() -> None:
        east.push(Fault.status(400))
        try:
            router.embed(["hello"])
        except ContentPolicyError:
            return
        raise AssertionError("the call was not refused")

    async def arefused() -> None:
        east.push(Fault.status(400))
        try:
            await router.aembed(["hello"])
        except ContentPolicyError:
            return
        raise AssertionError("the call was not refused")

    async def aembed() -> None:
        await router.aembed(["hello", "world"])

    async def afallback() -> None:
        east.push(Fault.status(401))
        assert (await router.aembed(["hello"])).provider == "west"

    async def afailed() -> None:
        east.push(Fault.status(401))
        west.push(Fault.status(401))
        try:
            await router.aembed(["a"])
        except NoRouteError:
            return
        raise AssertionError("the call did not fail")

    return {"embed": lambda: router.embed(["hello", "world"]), "fallback": fallback,
            "retried": retried, "failed": failed, "refused": refused, "aembed": aembed,
            "afallback": afallback, "afailed": afailed, "arefused": arefused}


@pytest.mark.parametrize("path", ["embed", "fallback", "retried", "failed", "refused",
                                  "aembed", "afallback", "afailed", "arefused"])
def test_an_embedding_call_leaves_nothing_for_the_garbage_collector(
    make_router: Any, east: StandinServer, west: StandinServer, path: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(east.responder, "error", refusing(east))
    # the breaker off: every call's first attempt fails where it was sent
    router = make_router(ROUTE, sleeps=SleepRecorder(), retry={"attempts": 2},
                         breaker={"enabled": False})
    call = scenarios(router, east, west)[path]
    loop = asyncio.new_event_loop()
    try:
        freed = left_in_cycles(call, calls=CALLS, loop=loop)
    finally:
        loop.run_until_complete(router.aclose())
        loop.close()
    assert sum(freed.values()) < CALLS / 2, (
        f"{path}: {sum(freed.values()) / CALLS:.1f} objects per call were left in "
        f"reference cycles: {freed.most_common(8)}")
