"""Streaming failure policy: a stream cut mid-way never ends as a silent success, under
every policy; ``continue`` hands the partial text to the next model; stalls count."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from resilience_helpers import ask

from polyroute.errors import NoRouteError, PolyrouteError, ServerError, StreamInterruptedError
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import ChatChunk

MID_STREAM = [Fault.cut_stream(2), Fault.in_band_error(2), Fault.truncate_stream(2),
              Fault.stall(2, 1.5)]
IDS = ["connection-cut", "in-band-error", "no-terminal-event", "stall-between-chunks"]
TIMEOUTS = {"connect": 2, "read": 2, "chunk": 0.3, "total": 30}


def collect(router: Any, mode: str, received: list[ChatChunk]) -> None:
    if mode == "sync":
        for c in router.stream(ask()):
            received.append(c)
        return

    async def run() -> None:
        async for c in router.astream(ask()):
            received.append(c)

    asyncio.run(run())


@pytest.mark.parametrize("fault", MID_STREAM, ids=IDS)
@pytest.mark.parametrize("policy", ["fallback", "fail"])
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_cut_mid_way_raises_under_fallback_and_fail(
    make_router, primary: StandinServer, secondary: StandinServer, fault: Fault, policy: str,
    mode: str,
) -> None:  # type: ignore[no-untyped-def]
    router = make_router(streaming={"on_failure": policy}, timeouts=TIMEOUTS)
    primary.push(fault)
    received: list[ChatChunk] = []
    with pytest.raises(StreamInterruptedError) as info:
        collect(router, mode, received)
    assert "".join(c.text for c in received) == "primary says: "
    assert not any(c.finish_reason for c in received)  # no final chunk: no silent success
    assert "mid-stream" in str(info.value) and len(secondary.requests) == 0


@pytest.mark.parametrize("fault", MID_STREAM, ids=IDS)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_continue_hands_the_partial_text_to_the_next_model(
    make_router, primary: StandinServer, secondary: StandinServer, fault: Fault, mode: str
) -> None:  # type: ignore[no-untyped-def]
    router = make_router(streaming={"on_failure": "continue"}, timeouts=TIMEOUTS)
    primary.push(fault)
    received: list[ChatChunk] = []
    collect(router, mode, received)
    last = received[-1]
    text = "".join(c.text for c in received)
    assert text.startswith("primary says: secondary says: ")
    assert last.provider == "secondary" and last.finish_reason == "stop"
    assert last.continued and not any(c.continued for c in received[:-1])
    sent = secondary.requests[0].json()
    assert sent["prompt"].startswith("Your previous message was cut off")
    # usage of both segments is summed: the cut one estimated (2 words), then 3 + 5
    assert last.usage is not None and last.usage.output_tokens > 5
    cut = [a for a in last.attempts if a.error == "StreamInterruptedError"]
    assert cut and cut[0].provider == "primary" and cut[0].action == "fell_back"
    assert "continued by the next candidate after 14 characters" in (cut[0].message or "")
    assert router.failover_stats()["by_route"] == {"primary/m1 -> secondary/m2": 1}


def test_continue_with_no_candidate_left_raises(make_router, primary: StandinServer) -> None:  # type: ignore[no-untyped-def]
    router = make_router(streaming={"on_failure": "continue"},
                         agents={"bot": {"model": "primary:m1"}})
    primary.push(Fault.cut_stream(2))
    received: list[ChatChunk] = []
    with pytest.raises(StreamInterruptedError, match="no candidate left"):
        collect(router, "sync", received)
    assert received and not any(c.finish_reason for c in received)


def test_continued_answer_reaches_guards_whole(make_router, primary: StandinServer) -> None:  # type: ignore[no-untyped-def]
    from polyroute.routing.guards import Guard

    seen: list[Any] = []

    class Spy(Guard):
        def after_call(self, request: Any, response: Any) -> None:
            seen.append(response)

    router = make_router(streaming={"on_failure": "continue"})
    router.guards.append(Spy())
    primary.push(Fault.in_band_error(1))
    list(router.stream(ask()))
    resp = seen[0]
    assert resp.message.text.startswith("primary secondary says")
    assert resp.provider_metadata["polyroute"] == {"continued": True, "continued_after_chars": 8}


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_fail_policy_does_not_fall_back_before_first_token(
    make_router, primary: StandinServer, secondary: StandinServer, mode: str
) -> None:  # type: ignore[no-untyped-def]
    router = make_router(streaming={"on_failure": "fail"}, retry={"attempts": 2})
    primary.push(Fault.status(500), Fault.status(500))
    with pytest.raises(ServerError, match="on_failure: fail"):
        collect(router, mode, [])
    assert len(primary.requests) == 2 and len(secondary.requests) == 0


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_slow_first_token_falls_back(
    make_router, primary: StandinServer, mode: str
) -> None:  # type: ignore[no-untyped-def]
    router = make_router(retry={"attempts": 1},
                         timeouts={"read": 2, "first_token": 0.3, "chunk": 0.4, "total": 30})
    primary.push(Fault.slow_first_chunk(1.5))
    received: list[ChatChunk] = []
    collect(router, mode, received)
    assert received[-1].provider == "secondary"
    assert received[-1].attempts[0].error == "ProviderTimeoutError"


def test_a_short_pause_within_the_chunk_timeout_is_fine(make_router, primary) -> None:  # type: ignore[no-untyped-def]
    router = make_router(timeouts={"read": 2, "chunk": 1.0, "total": 30})
    primary.push(Fault.stall(2, 0.2))
    chunks = list(router.stream(ask()))
    assert chunks[-1].provider == "primary" and chunks[-1].finish_reason == "stop"


def test_abandoned_stream_settles_guards(make_router) -> None:  # type: ignore[no-untyped-def]
    router = make_router()
    gen = router.stream(ask())
    next(gen)
    gen.close()
    assert router.health.in_flight("primary/m1") == 0


def test_every_stream_failure_is_typed(make_router, primary) -> None:  # type: ignore[no-untyped-def]
    router = make_router(retry={"attempts": 1}, agents={"bot": {"model": "primary:m1"}},
                         timeouts=TIMEOUTS)
    for fault in [Fault.status(502), Fault.reset(), Fault.malformed(), *MID_STREAM]:
        primary.clear()
        primary.push(fault)
        with pytest.raises(PolyrouteError) as info:
            list(router.stream(ask()))
        assert isinstance(info.value, NoRouteError | StreamInterruptedError)
