"""A worker process for the cross-process singleflight test: one router on the
shared Redis cache; it reports when it starts waiting for another process's
answer, then the answer it got."""

from __future__ import annotations

from typing import Any


def ask_once(base_url: str, redis_url: str, prefix: str, barrier: Any, events: Any) -> None:
    import echo_provider

    from polyroute.cache.redis_store import RedisResponseCache
    from polyroute.plugins import PluginRegistry
    from polyroute.router import Router
    from polyroute.types import ChatRequest, Message, RoutingHints

    leased = RedisResponseCache.leased
    told = False

    def leased_and_tell(self: RedisResponseCache, key: str) -> bool:
        nonlocal told
        if not told:
            told = True
            events.put("waiting")  # this process waits on another's upstream call
        return leased(self, key)

    RedisResponseCache.leased = leased_and_tell  # type: ignore[method-assign]
    config = {
        "providers": {"a": {"type": "echo", "base_url": base_url}},
        "agents": {"bot": {"model": "a:m"}},
        "cache": {"backend": "redis", "url": redis_url, "prefix": prefix},
    }
    registry = PluginRegistry.create(load_entrypoints=False, plugins=[echo_provider])
    ask = ChatRequest(messages=[Message.user("the same question")],
                      routing=RoutingHints(agent="bot"))
    with Router(config, registry=registry) as router:
        barrier.wait(60)
        answer = router.chat(ask)
    events.put(("answer", answer.message.text, answer.cache_hit))
