"""Time the pieces of polyroute's hot path one by one, without a profiler's distortion.

    bench/.venv/bin/python bench/components.py          # prints a table, writes
                                                        # bench/results/components.md

Each row is the median over many runs of one piece on the real objects the
benchmark's router uses (no network: the transport is left out, except where
a row says so). Rows marked "alt" time a cheaper way to do the same job, so
docs/benchmark.md can give the gain of each proposed change as a measurement.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import clients  # noqa: E402
from fakeserver import COMPLETION  # noqa: E402

ROWS: list[tuple[str, float, str]] = []


def bench(name: str, fn: Callable[[], Any], n: int = 20000, note: str = "") -> float:
    for _ in range(min(n // 10, 2000)):
        fn()
    gc.collect()
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n // 5):
            fn()
        runs.append((time.perf_counter() - t) / (n // 5) * 1e6)
    us = statistics.median(runs)
    ROWS.append((name, us, note))
    return us


async def abench(name: str, fn: Callable[[], Awaitable[Any]], n: int = 20000,
                 note: str = "") -> float:
    for _ in range(min(n // 10, 2000)):
        await fn()
    gc.collect()
    runs = []
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(n // 5):
            await fn()
        runs.append((time.perf_counter() - t) / (n // 5) * 1e6)
    us = statistics.median(runs)
    ROWS.append((name, us, note))
    return us


def _body_encoder() -> Callable[[Any], Any]:
    """How the measured tree's transport encodes a request (its ``_encode``; a tree
    without one: ``json.dumps``, what its transport ran before it had one)."""
    try:
        from polyroute.transport import _encode
    except ImportError:
        def _encode(req: Any) -> Any:
            if req.json is not None:
                return json.dumps(req.json, separators=(",", ":"), ensure_ascii=False).encode()
            return None
    return _encode


class FixedTransport:
    """A transport that answers every send at once with the fake server's bytes."""

    def __init__(self) -> None:
        from polyroute.providers.base import HttpResponse

        body = json.dumps(COMPLETION).encode()
        self.encode_body = _body_encoder()
        self.response = HttpResponse(200, {"content-type": "application/json",
                                           "x-request-id": "req_bench"}, body)

    async def asend(self, req: Any, timeouts: Any, **kw: Any) -> Any:
        self.encode_body(req)
        return self.response

    def send(self, req: Any, timeouts: Any, **kw: Any) -> Any:
        return self.response

    async def aclose(self) -> None:
        return None

    def close(self) -> None:
        return None


class FixedStreamTransport(FixedTransport):
    """Also streams at once: the fake server's SSE body (one read, as it writes it),
    framed by the transport's own decoder, so the stream rows time polyroute's work
    per event (framing, the provider's parser, chunks, the steps) without a socket."""

    def __init__(self) -> None:
        super().__init__()
        from fakeserver import _stream_events

        self.stream_body = b"".join(_stream_events())

    @contextlib.asynccontextmanager
    async def astream(self, req: Any, timeouts: Any, *, provider: str, model: str,
                      remaining: float | None = None) -> AsyncIterator[tuple[Any, Any]]:
        from polyroute.transport import _Frames

        self.encode_body(req)
        frames = _Frames(req, provider, model, timeouts)
        body = self.stream_body

        async def events() -> AsyncIterator[Any]:
            yield frames.feed(body)  # one read: its events as one batch, as Transport does
            if last := frames.close():
                yield last

        yield None, events()


async def main_async() -> None:
    from polyroute_features import features_config
    from tenacity import AsyncRetrying, retry_if_exception

    from polyroute.router import Router

    ctx = clients.Ctx(base_url="http://127.0.0.1:9/v1", fail_url="http://127.0.0.1:9/fail/v1")
    cfg, _ = features_config(ctx)
    router = Router(cfg, transport=FixedTransport())  # type: ignore[arg-type]
    request = clients._request(agent="bench")
    await router.achat(request)

    # the whole router with a zero-cost transport: polyroute's own CPU per call
    await abench("Router.achat, transport answers instantly (all of polyroute's own work)",
                 lambda: router.achat(request), 20000)

    # a streamed call over the same instant transport (15 SSE events, read to the end)
    srouter = Router(cfg, transport=FixedStreamTransport())  # type: ignore[arg-type]

    async def streamed() -> str:
        return "".join([c.text async for c in srouter.astream(request)])

    assert await streamed()
    await abench("Router.astream, transport streams instantly (15 events, read to the end)",
                 streamed, 5000)
    await srouter.aclose()

    # pieces
    bench("ChatRequest built (2 messages, params, routing hints)",
          lambda: clients._request(agent="bench"))
    bench("Router._prepare (plan + Call)", lambda: router._prepare(request))
    call, req2 = router._prepare(request)
    dep = call.plan.tiers[0][0]
    provider = router._providers[dep.provider]
    bench("provider.build_request (body dict + headers)",
          lambda: provider.build_request(req2, dep.model, stream=False))
    http = provider.build_request(req2, dep.model, stream=False)
    bench("json.dumps of the request body", lambda: json.dumps(
        http.json, separators=(",", ":"), ensure_ascii=False).encode())
    raw = router.transport.response  # type: ignore[attr-defined]
    bench("provider.parse_response (json.loads + ChatResponse)",
          lambda: provider.parse_response(raw, dep.model))
    bench("json.loads of the answer alone", lambda: json.loads(raw.content))
    try:
        import orjson

        bench("alt: orjson.loads of the answer", lambda: orjson.loads(raw.content),
              note="alt")
        bench("alt: orjson.dumps of the request body", lambda: orjson.dumps(http.json),
              note="alt")
    except ImportError:
        pass
    resp = provider.parse_response(raw, dep.model)
    bench("Router._finish (model_info, cost, guards)", lambda: router._finish(call, dep, resp))
    bench("Router.model_info (catalog lookup + override check)", lambda: router.model_info(dep))
    bench("Call.succeeded (Attempt model)", lambda: call.succeeded(dep, time.perf_counter()),
          n=5000)
    call.attempts.clear()

    # each guard's share: skip_reason + before_attempt + after_attempt + after_call
    attempt = call.succeeded(dep, time.perf_counter())
    call.attempts.clear()
    for guard in router.guards:
        async def cycle(g: Any = guard) -> None:
            g.skip_reason(dep, req2)
            ticket = await g.abefore_attempt(dep, req2)
            g.after_attempt(dep, req2, ticket, attempt, resp)
            g.after_call(req2, resp)

        await abench(f"guard {type(guard).__name__}: skip_reason + before/after attempt "
                     "+ after_call",
                     cycle, 5000)

    async def one() -> int:
        return 1

    async def yielding() -> int:
        await asyncio.sleep(0)
        return 1

    policy = router.retry_policy  # the router's own policy, as tenacity would take it
    kwargs = {"stop": policy.stop, "wait": policy.wait, "reraise": True,
              "retry": retry_if_exception(lambda e: policy.should_retry(e, call.remaining()))}

    async def with_tenacity() -> int:
        async for attempt in AsyncRetrying(sleep=asyncio.sleep, **kwargs):
            with attempt:
                r = await one()
        return r

    async def without_tenacity() -> int:
        return await one()

    assert kwargs
    await abench("tenacity AsyncRetrying around one successful attempt", with_tenacity)
    await abench("alt: the attempt awaited directly (retry loop only on failure)",
                 without_tenacity, note="alt")

    async def wait_for() -> int:
        return await asyncio.wait_for(yielding(), 600.0)

    async def timeout_cm() -> int:
        async with asyncio.timeout(600.0):
            return await yielding()

    async def bare() -> int:
        return await yielding()

    await abench("asyncio.wait_for(attempt, remaining) (a Task per attempt)", wait_for)
    await abench("alt: async with asyncio.timeout(remaining)", timeout_cm, note="alt")
    await abench("no deadline wrapper (baseline: one loop hop)", bare, note="baseline")

    # LangChain adapter with the same instant transport
    try:
        from langchain_core.messages import HumanMessage, SystemMessage

        from polyroute.langchain import RoutedChatModel
        from polyroute.langchain.outputs import chat_result
    except ImportError:
        pass
    else:
        llm = RoutedChatModel(router=router, agent="bench")
        msgs = [SystemMessage(clients.SYSTEM), HumanMessage(clients.USER)]
        await llm.ainvoke(msgs)
        await abench("RoutedChatModel.ainvoke, transport answers instantly",
                     lambda: llm.ainvoke(msgs), 5000)
        bench("RoutedChatModel._request (LangChain messages -> ChatRequest)",
              lambda: llm._request(msgs, None, {}), 5000)
        bench("chat_result (ChatResponse -> ChatResult/AIMessage)",
              lambda: chat_result(resp), 5000)
        await abench("alt: Router.achat alone (the rest is LangChain's callback machinery)",
                     lambda: router.achat(request), 5000, note="alt")


def main() -> None:
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    asyncio.run(main_async())
    lines = ["| piece | µs per call (median) |", "|---|---|"]
    for name, us, _ in ROWS:
        lines.append(f"| {name} | {us:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "components.md").write_text(text)


if __name__ == "__main__":
    main()
