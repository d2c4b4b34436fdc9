"""The clients the benchmark compares. Each makes one chat completion per ``call()``.

Every client sends the same request (a system and a user message, temperature
0, a max-token limit) to the same fake server and reads the whole answer. Raw
HTTP clients JSON-encode the body and decode the answer on every call, as any
real client must; the SDKs and routers do their own thing, as users get it.

A factory is ``async def make(ctx) -> Client``; imports happen inside it, so a
worker process only ever loads the client it measures (peak RSS stays honest).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

MODEL = "gpt-4.1-mini"
SYSTEM = "You are a careful senior Python engineer. Answer briefly."
USER = "Write a unit test for parse_date in dateutils.py."
MAX_TOKENS = 64
API_KEY = "sk-bench-not-a-real-key"
MESSAGES = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}]
EXPECT = "Here is a unit test for parse_date"


@dataclass
class Ctx:
    base_url: str  # http://127.0.0.1:PORT/v1
    fail_url: str  # http://127.0.0.1:PORT/fail/v1 (answers 500)
    tmp: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="polyroute-bench-"))


@dataclass
class Client:
    call: Callable[[], Awaitable[Any]]
    aclose: Callable[[], Awaitable[None]]
    check: Callable[[Any], bool] = lambda out: True
    """Is one call's result the expected answer (checked once, before timing)."""
    notes: dict[str, Any] = field(default_factory=dict)


async def _noop() -> None:
    return None


def _body() -> bytes:
    return json.dumps(
        {"model": MODEL, "messages": MESSAGES, "temperature": 0,
         "max_completion_tokens": MAX_TOKENS}
    ).encode()


_HEADERS = {"content-type": "application/json", "authorization": f"Bearer {API_KEY}"}


def _text(data: Any) -> str:
    return str(data["choices"][0]["message"]["content"])


def _ok(status: int, content: bytes | None) -> Any:
    """A raw client's answer: raise on a non-200 status (counted as an error), else the JSON."""
    if status != 200:
        raise RuntimeError(f"HTTP {status}")
    return json.loads(content or b"")


def _raw_check(data: Any) -> bool:
    return _text(data).startswith(EXPECT)


# --- raw HTTP clients (the floors) ---------------------------------------------------


async def make_httpx(ctx: Ctx) -> Client:
    import httpx

    # polyroute's Transport default limits; keep-alive for every connection c=64 uses.
    client = httpx.AsyncClient(
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=200)
    )
    url = ctx.base_url + "/chat/completions"

    async def call() -> Any:
        r = await client.post(url, content=_body(), headers=_HEADERS)
        return _ok(r.status_code, r.content)

    return Client(call, client.aclose, _raw_check)


async def make_httpx2(ctx: Ctx) -> Client:
    import httpx2

    client = httpx2.AsyncClient(
        limits=httpx2.Limits(max_connections=200, max_keepalive_connections=200)
    )
    url = ctx.base_url + "/chat/completions"

    async def call() -> Any:
        r = await client.post(url, content=_body(), headers=_HEADERS)
        return _ok(r.status_code, r.content)

    return Client(call, client.aclose, _raw_check)


async def make_aiohttp(ctx: Ctx) -> Client:
    import aiohttp

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
    url = ctx.base_url + "/chat/completions"

    async def call() -> Any:
        async with session.post(url, data=_body(), headers=_HEADERS) as r:
            return _ok(r.status, await r.read())

    return Client(call, session.close, _raw_check)


async def make_pyreqwest(ctx: Ctx) -> Client:
    from pyreqwest.client import ClientBuilder

    client = ClientBuilder().http1_only().max_connections(200).build()
    url = ctx.base_url + "/chat/completions"

    async def call() -> Any:
        req = client.post(url).headers(_HEADERS).body_bytes(_body()).build()
        r = await req.send()
        return _ok(r.status, bytes(await r.bytes()))

    async def close() -> None:
        await client.close()

    return Client(call, close, _raw_check)


async def make_rnet(ctx: Ctx) -> Client:
    import rnet

    client = rnet.Client()
    url = ctx.base_url + "/chat/completions"

    async def call() -> Any:
        r = await client.post(url, body=_body(), headers=_HEADERS)
        return _ok(int(r.status), await r.bytes())

    return Client(call, _noop, _raw_check)


async def make_aiosonic(ctx: Ctx) -> Client:
    import aiosonic

    client = aiosonic.HTTPClient()
    url = ctx.base_url + "/chat/completions"

    async def call() -> Any:
        r = await client.post(url, data=_body(), headers=_HEADERS)
        return _ok(r.status_code, await r.content())

    async def close() -> None:
        await client.connector.cleanup()

    return Client(call, close, _raw_check)


async def make_niquests(ctx: Ctx) -> Client:
    import niquests

    session = niquests.AsyncSession(pool_maxsize=200)
    url = ctx.base_url + "/chat/completions"

    async def call() -> Any:
        r = await session.post(url, data=_body(), headers=_HEADERS)
        return _ok(r.status_code, r.content)

    return Client(call, session.close, _raw_check)


async def make_curl_cffi(ctx: Ctx) -> Client:
    from curl_cffi.requests import AsyncSession

    session = AsyncSession(max_clients=64)
    url = ctx.base_url + "/chat/completions"

    async def call() -> Any:
        r = await session.post(url, data=_body(), headers=_HEADERS)
        return _ok(r.status_code, r.content)

    return Client(call, session.close, _raw_check)


# --- SDKs and peers ------------------------------------------------------------------


async def make_openai(ctx: Ctx) -> Client:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=ctx.base_url, api_key=API_KEY, max_retries=0)

    async def call() -> Any:
        return await client.chat.completions.create(
            model=MODEL, messages=MESSAGES, temperature=0,  # type: ignore[arg-type]
            max_completion_tokens=MAX_TOKENS,
        )

    def check(out: Any) -> bool:
        return str(out.choices[0].message.content).startswith(EXPECT)

    return Client(call, client.close, check)


def _lc_messages() -> list[Any]:
    from langchain_core.messages import HumanMessage, SystemMessage

    return [SystemMessage(SYSTEM), HumanMessage(USER)]


def _lc_check(out: Any) -> bool:
    return str(out.content).startswith(EXPECT)


async def make_langchain_openai(ctx: Ctx) -> Client:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        model=MODEL, base_url=ctx.base_url, api_key=API_KEY, max_retries=0,  # type: ignore[arg-type]
        temperature=0, max_completion_tokens=MAX_TOKENS,
    )
    msgs = _lc_messages()

    async def call() -> Any:
        return await llm.ainvoke(msgs)

    return Client(call, _noop, _lc_check)


async def make_litellm(ctx: Ctx) -> Client:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import
    os.environ.setdefault("LITELLM_LOG", "ERROR")
    import litellm
    from litellm import Router as LiteRouter

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    router = LiteRouter(
        model_list=[{
            "model_name": "bench",
            "litellm_params": {
                "model": f"openai/{MODEL}", "api_base": ctx.base_url, "api_key": API_KEY,
                "max_retries": 0,
            },
        }],
        num_retries=0,
    )

    async def call() -> Any:
        return await router.acompletion(
            model="bench", messages=MESSAGES, temperature=0, max_tokens=MAX_TOKENS
        )

    def check(out: Any) -> bool:
        return str(out.choices[0].message.content).startswith(EXPECT)

    return Client(call, _noop, check)


# --- polyroute -----------------------------------------------------------------------

from polyroute_features import features_config  # noqa: E402 - bench-local module


def _request(**routing: Any) -> Any:
    from polyroute.types import ChatRequest, GenerationParams, Message, RoutingHints

    return ChatRequest(
        messages=[Message(role="system", content=SYSTEM), Message(role="user", content=USER)],
        params=GenerationParams(temperature=0, max_tokens=MAX_TOKENS),
        routing=RoutingHints(**routing),
    )


def _pr_check(out: Any) -> bool:
    return str(out.message.text).startswith(EXPECT) and not getattr(out, "cache_hit", False)


async def _router(ctx: Ctx, *, cache: bool = False, failover: bool = False,
                  transport: Any = None) -> tuple[Any, dict[str, Any]]:
    from polyroute.router import Router

    cfg, on = features_config(ctx, cache=cache, failover=failover)
    router = Router(cfg, transport=transport) if transport is not None else Router(cfg)
    on["guards"] = [type(g).__name__ for g in router.guards]
    return router, on


async def make_polyroute(ctx: Ctx, transport: Any = None) -> Client:
    router, on = await _router(ctx, transport=transport)
    request = _request(agent="bench")

    async def call() -> Any:
        return await router.achat(request)

    return Client(call, router.aclose, _pr_check, notes=on)


async def make_polyroute_httpx(ctx: Ctx) -> Client:
    """Router.achat with httpx under one-shot async sends (the transport's alternative)."""
    from polyroute.transport import Transport

    return await make_polyroute(ctx, transport=Transport(async_http="httpx"))


async def make_polyroute_pyreqwest(ctx: Ctx) -> Client:
    """Router.achat with pyreqwest under one-shot async sends (the optional extra)."""
    from polyroute.errors import ConfigError
    from polyroute.transport import Transport

    try:
        transport = Transport(async_http="pyreqwest")  # type: ignore[arg-type]
    except ConfigError as exc:  # the extra is not installed
        raise NotPresent(f"no pyreqwest: {exc}") from exc
    if getattr(transport, "_oneshot", None) is None:  # an older tree would use httpx
        raise NotPresent("this tree has no pyreqwest transport")
    return await make_polyroute(ctx, transport=transport)


async def make_polyroute_redis_state(ctx: Ctx) -> Client:
    """Router.achat with every feature on and ``state.backend: redis``: budgets, breakers,
    limits, health and strategies in a Redis at 127.0.0.1:6379 (keys under a prefix of
    this process, deleted at the end)."""
    from polyroute.router import Router

    url = os.environ.get("POLYROUTE_BENCH_REDIS", "redis://127.0.0.1:6379/0")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception as exc:  # no client library, or no server
        raise NotPresent(f"no Redis at {url}: {type(exc).__name__}: {exc}") from exc
    cfg, on = features_config(ctx)
    prefix = f"polyroute-bench-{os.getpid()}:"
    data = cfg.model_dump(exclude_none=True, mode="json")
    for p in data["providers"].values():
        p["api_key"] = API_KEY  # the dump masks secrets
    data["state"] = {"backend": "redis", "url": url, "prefix": prefix}
    router = Router(data)
    on["guards"] = [type(g).__name__ for g in router.guards]
    on["state"] = "redis"
    request = _request(agent="bench")

    async def call() -> Any:
        return await router.achat(request)

    async def close() -> None:
        await router.aclose()
        r = redis.Redis.from_url(url)
        for key in r.scan_iter(match=prefix + "*", count=1000):
            r.delete(key)

    return Client(call, close, _pr_check, notes=on)


async def make_polyroute_fresh_request(ctx: Ctx) -> Client:
    """Router.achat with a ChatRequest built per call (as the LangChain adapter does)."""
    router, on = await _router(ctx)

    async def call() -> Any:
        return await router.achat(_request(agent="bench"))

    return Client(call, router.aclose, _pr_check, notes=on)


async def make_routed_chat_model(ctx: Ctx) -> Client:
    from polyroute.langchain import RoutedChatModel

    router, on = await _router(ctx)
    llm = RoutedChatModel(router=router, agent="bench")
    msgs = _lc_messages()

    async def call() -> Any:
        return await llm.ainvoke(msgs)

    return Client(call, router.aclose, _lc_check, notes=on)


async def make_polyroute_cache_hit(ctx: Ctx) -> Client:
    router, on = await _router(ctx, cache=True)
    if not on.get("cache"):
        raise NotPresent("no response cache in this tree (config schema has no cache section)")
    request = _request(agent="bench")
    await router.achat(request)  # fill the cache

    async def call() -> Any:
        return await router.achat(request)

    def check(out: Any) -> bool:
        return str(out.message.text).startswith(EXPECT) and bool(getattr(out, "cache_hit", False))

    return Client(call, router.aclose, check, notes=on)


async def make_polyroute_failover(ctx: Ctx) -> Client:
    router, on = await _router(ctx, failover=True)
    request = _request(agent="failover")

    async def call() -> Any:
        return await router.achat(request)

    def check(out: Any) -> bool:
        return _pr_check(out) and len(out.attempts) == 2 and not out.attempts[0].ok

    return Client(call, router.aclose, check, notes=on)


async def make_polyroute_failed_only(ctx: Ctx) -> Client:
    """The failed call alone: one attempt at the 500 deployment, nothing to fall back to."""
    from polyroute.errors import PolyrouteError

    router, on = await _router(ctx, failover=True)
    request = _request(agent="failing")

    async def call() -> Any:
        try:
            await router.achat(request)
        except PolyrouteError as exc:
            return exc
        return None

    return Client(call, router.aclose, lambda out: out is not None, notes=on)


async def make_httpx_500(ctx: Ctx) -> Client:
    """Raw httpx against the 500 endpoint: the round trip a failover must pay for."""
    import httpx

    client = httpx.AsyncClient()
    url = ctx.fail_url + "/chat/completions"

    async def call() -> Any:
        r = await client.post(url, content=_body(), headers=_HEADERS)
        return r.status_code

    return Client(call, client.aclose, lambda s: s == 500)


# --- streams: the same answer streamed (fakeserver's /stream/v1) ----------------------------


def _stream_url(ctx: Ctx) -> str:
    return ctx.base_url.removesuffix("/v1") + "/stream/v1"


def _stream_ctx(ctx: Ctx) -> Ctx:
    return Ctx(base_url=_stream_url(ctx), fail_url=ctx.fail_url, tmp=ctx.tmp)


def _text_check(out: Any) -> bool:
    return isinstance(out, str) and out.startswith(EXPECT)


async def make_aiohttp_stream(ctx: Ctx) -> Client:
    """Raw aiohttp reading the SSE stream line by line and decoding every event, as a
    hand-written streaming client must (read to the end, so the connection is reused)."""
    import aiohttp

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
    url = _stream_url(ctx) + "/chat/completions"
    body = json.dumps(
        {"model": MODEL, "messages": MESSAGES, "temperature": 0,
         "max_completion_tokens": MAX_TOKENS, "stream": True,
         "stream_options": {"include_usage": True}}
    ).encode()

    async def call() -> Any:
        parts: list[str] = []
        async with session.post(url, data=body, headers=_HEADERS) as r:
            if r.status != 200:
                raise RuntimeError(f"HTTP {r.status}")
            async for line in r.content:
                if not line.startswith(b"data: ") or line.startswith(b"data: [DONE]"):
                    continue
                for choice in json.loads(line[6:])["choices"]:
                    parts.append(choice["delta"].get("content") or "")
        return "".join(parts)

    return Client(call, session.close, _text_check)


async def make_polyroute_stream(ctx: Ctx) -> Client:
    """Router.astream, every feature on, the whole answer read."""
    router, on = await _router(_stream_ctx(ctx))
    request = _request(agent="bench")

    async def call() -> Any:
        return "".join([c.text async for c in router.astream(request)])

    return Client(call, router.aclose, _text_check, notes=on)


async def make_routed_chat_model_stream(ctx: Ctx) -> Client:
    from polyroute.langchain import RoutedChatModel

    router, on = await _router(_stream_ctx(ctx))
    llm = RoutedChatModel(router=router, agent="bench")
    msgs = _lc_messages()

    async def call() -> Any:
        return "".join([str(c.content) async for c in llm.astream(msgs)])

    return Client(call, router.aclose, _text_check, notes=on)


async def make_langchain_openai_stream(ctx: Ctx) -> Client:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        model=MODEL, base_url=_stream_url(ctx), api_key=API_KEY, max_retries=0,  # type: ignore[arg-type]
        temperature=0, max_completion_tokens=MAX_TOKENS, stream_usage=True,
    )
    msgs = _lc_messages()

    async def call() -> Any:
        return "".join([str(c.content) async for c in llm.astream(msgs)])

    return Client(call, _noop, _text_check)


class NotPresent(Exception):
    """The feature this scenario measures is not in the tree yet."""


FACTORIES: dict[str, Callable[[Ctx], Awaitable[Client]]] = {
    "httpx": make_httpx,
    "httpx2": make_httpx2,
    "aiohttp": make_aiohttp,
    "pyreqwest": make_pyreqwest,
    "rnet": make_rnet,
    "aiosonic": make_aiosonic,
    "niquests": make_niquests,
    "curl_cffi": make_curl_cffi,
    "openai": make_openai,
    "langchain_openai": make_langchain_openai,
    "litellm": make_litellm,
    "polyroute": make_polyroute,
    "polyroute_fresh_request": make_polyroute_fresh_request,
    "polyroute_httpx": make_polyroute_httpx,
    "polyroute_pyreqwest": make_polyroute_pyreqwest,
    "polyroute_redis_state": make_polyroute_redis_state,
    "routed_chat_model": make_routed_chat_model,
    "polyroute_cache_hit": make_polyroute_cache_hit,
    "polyroute_failover": make_polyroute_failover,
    "polyroute_failed_only": make_polyroute_failed_only,
    "httpx_500": make_httpx_500,
    "aiohttp_stream": make_aiohttp_stream,
    "polyroute_stream": make_polyroute_stream,
    "routed_chat_model_stream": make_routed_chat_model_stream,
    "langchain_openai_stream": make_langchain_openai_stream,
}
