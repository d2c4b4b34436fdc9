"""The response cache keeps tenants apart however the tenant is set, and every exit of
a call releases its in-flight entry (no waiter stalls for ``wait_timeout``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from polyroute.cache.guard import CacheGuard
from polyroute.cost.wiring import find_guard
from polyroute.errors import StateStoreError
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.routing.guards import Guard
from polyroute.routing.plan import Deployment
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints

# A wait_timeout no test may reach: a call that does not release its entry hangs the
# test (caught by the join timeouts below) instead of passing late.
NEVER = 3600


def make_router(registry: PluginRegistry, url: str, tmp: Path, *, guards: Any = (),
                **extra: Any) -> Router:
    return Router({
        "providers": {"a": {"type": "echo", "base_url": url}},
        "agents": {
            "a1": {"model": "a:m", "tags": {"tenant": "acme"}},
            "a2": {"model": "a:m", "tags": {"tenant": "globex"}},
            "plain": {"model": "a:m"},
        },
        "retry": {"attempts": 1},
        "cache": {"directory": str(tmp / "cache"), "wait_timeout": NEVER},
        "ledger": {"path": str(tmp / "usage.db")},
        **extra,
    }, registry=registry, guards=guards)


def ask(agent: str = "plain", text: str = "same prompt", **tags: str) -> ChatRequest:
    return ChatRequest(messages=[Message.user(text)],
                       routing=RoutingHints(agent=agent, tags=tags))


def guard_of(router: Router) -> CacheGuard:
    g = find_guard(router, CacheGuard)
    assert isinstance(g, CacheGuard)
    return g


# --- item 8: tenants ------------------------------------------------------------------


def test_two_agents_of_two_tenants_never_share_an_answer(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path
) -> None:
    with make_router(echo_registry, primary.url, tmp_path) as router:
        assert not router.chat(ask("a1")).cache_hit
        assert not router.chat(ask("a2")).cache_hit  # was a1's answer
        assert router.chat(ask("a1")).cache_hit and router.chat(ask("a2")).cache_hit
        # the call's tag wins over its agent's, as in the ledger and budgets
        assert router.chat(ask("plain", tenant="acme")).cache_hit
        assert not router.chat(ask("a1", tenant="initech")).cache_hit
        # no tenant at all is a partition of its own
        assert not router.chat(ask("plain")).cache_hit
    assert len(primary.requests) == 4


def test_explicit_model_with_an_agent_keeps_the_agents_tenant(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path
) -> None:
    def explicit(agent: str) -> ChatRequest:
        return ChatRequest(messages=[Message.user("x")],
                           routing=RoutingHints(agent=agent, model="a:m"))

    with make_router(echo_registry, primary.url, tmp_path) as router:
        assert not router.chat(explicit("a1")).cache_hit
        assert not router.chat(explicit("a2")).cache_hit
        assert router.chat(explicit("a1")).cache_hit
    assert len(primary.requests) == 2


def test_a_custom_tenant_tag_partitions_too(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path
) -> None:
    router = Router({
        "providers": {"a": {"type": "echo", "base_url": primary.url}},
        "agents": {"x": {"model": "a:m", "tags": {"org": "1"}},
                   "y": {"model": "a:m", "tags": {"org": "2"}}},
        "cache": {"directory": str(tmp_path / "cache"), "tenant_tag": "org"},
    }, registry=echo_registry)
    with router:
        assert not router.chat(ask("x")).cache_hit
        assert not router.chat(ask("y")).cache_hit
        assert router.chat(ask("y", org="1")).cache_hit  # y's call, tagged as org 1
    assert len(primary.requests) == 2


def test_langchain_every_way_to_set_a_tenant_is_isolated(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path
) -> None:
    pytest.importorskip("langchain_core")
    from polyroute.langchain import RoutedChatModel

    with make_router(echo_registry, primary.url, tmp_path) as router:
        acme = RoutedChatModel(router=router, agent="plain", routing_tags={"tenant": "acme"})
        hooli = RoutedChatModel(router=router, agent="plain", routing_tags={"tenant": "hooli"})
        by_agent = RoutedChatModel(router=router, agent="a2")
        untagged = RoutedChatModel(router=router, agent="plain")
        acme.invoke("lc prompt")
        for model, kwargs in [
            (hooli, {}),                                            # constructor tags
            (untagged, {}),                                         # no tenant
            (by_agent, {}),                                         # the agent's tags
            (untagged, {"routing_tags": {"tenant": "initech"}}),    # per call
            (untagged.bind(routing_tags={"tenant": "umbrella"}), {}),  # bound
        ]:
            msg = model.invoke("lc prompt", **kwargs)
            assert msg.response_metadata["polyroute"]["cache_hit"] is False, kwargs
            assert "lc prompt" in str(msg.content)

        async def one() -> Any:
            return await hooli.ainvoke("lc prompt")

        assert asyncio.run(one()).response_metadata["polyroute"]["cache_hit"] is True
        chunks = list(acme.stream("lc prompt"))  # a hit, replayed as a stream, same tenant
        assert "".join(str(c.content) for c in chunks) == "primary says: lc prompt"
    assert len(primary.requests) == 6


def test_llamaindex_tenants_are_isolated(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path
) -> None:
    pytest.importorskip("llama_index.core")
    from llama_index.core.llms import ChatMessage

    from polyroute.llamaindex import RoutedLLM

    with make_router(echo_registry, primary.url, tmp_path) as router:
        prompt = [ChatMessage(role="user", content="li prompt")]
        steps = [
            (RoutedLLM(router=router, agent="a1"), {}, 1),  # tenant acme, from the agent
            (RoutedLLM(router=router, agent="a2"), {}, 2),  # tenant globex: not a1's answer
            (RoutedLLM(router=router, agent="plain", routing_tags={"tenant": "acme"}), {}, 2),
            (RoutedLLM(router=router, agent="plain"), {"routing_tags": {"tenant": "x"}}, 3),
            (RoutedLLM(router=router, agent="plain"), {}, 4),  # no tenant
        ]
        for llm, kwargs, upstream in steps:
            llm.chat(prompt, **kwargs)
            assert len(primary.requests) == upstream, (llm.agent, llm.routing_tags, kwargs)


# --- item 9: every exit releases the in-flight entry ----------------------------------


class FlakyStore(Guard):
    """A guard whose state store fails once — as ``StateStoreError`` or anything else."""

    name = "flaky"

    def __init__(self) -> None:
        self.fail_next: BaseException | None = None

    def before_attempt(self, dep: Deployment, request: ChatRequest) -> Any:
        err, self.fail_next = self.fail_next, None
        if err is not None:
            raise err
        return None


def finishes(fn: Callable[[], Any]) -> Any:
    """``fn()`` in a thread; fails the test (rather than hang) if it waits on a leak."""
    box: list[Any] = []
    t = threading.Thread(target=lambda: box.append(fn()), daemon=True)
    t.start()
    t.join(60)
    assert not t.is_alive(), "an identical request is stuck behind a finished call"
    return box[0]


@pytest.mark.parametrize("error", [StateStoreError("redis went away"), RuntimeError("bug"),
                                   KeyboardInterrupt()])
def test_an_error_no_guard_saw_releases_the_entry(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path,
    error: BaseException,
) -> None:
    flaky = FlakyStore()
    with make_router(echo_registry, primary.url, tmp_path, guards=[flaky]) as router:
        flaky.fail_next = error
        with pytest.raises(type(error)):
            router.chat(ask())
        assert guard_of(router)._flights == {} and guard_of(router)._owners == {}
        resp = finishes(lambda: router.chat(ask()))
        assert not resp.cache_hit and resp.message.text == "primary says: same prompt"


def test_async_error_and_cancellation_release_the_entry(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path
) -> None:
    flaky = FlakyStore()
    with make_router(echo_registry, primary.url, tmp_path, guards=[flaky]) as router:
        guard = guard_of(router)

        async def scenario() -> None:
            flaky.fail_next = StateStoreError("state down")
            with pytest.raises(StateStoreError):
                await router.achat(ask())
            assert guard._flights == {}
            primary.push(Fault.hang(30))
            leader = asyncio.create_task(router.achat(ask(text="cancelled")))
            while not primary.requests:  # the leader is in flight upstream
                await asyncio.sleep(0.01)
            leader.cancel()
            with pytest.raises(asyncio.CancelledError):
                await leader
            assert guard._flights == {} and guard._owners == {}
            resp = await asyncio.wait_for(router.achat(ask(text="cancelled")), 60)
            assert not resp.cache_hit

        asyncio.run(scenario())


def test_a_stream_closed_early_releases_the_entry(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path
) -> None:
    with make_router(echo_registry, primary.url, tmp_path) as router:
        guard = guard_of(router)
        chunks = router.stream(ask(text="one two three four"))
        next(chunks)
        assert guard._flights  # leading
        chunks.close()  # the caller stopped reading
        assert guard._flights == {} and guard._owners == {}
        text = finishes(lambda: "".join(c.text or "" for c in router.stream(
            ask(text="one two three four"))))
        assert text.strip() == "primary says: one two three four"

        async def astream_closed() -> None:
            gen = router.astream(ask(text="async stream"))
            await gen.__anext__()
            await gen.aclose()
            assert guard._flights == {} and guard._owners == {}

        asyncio.run(astream_closed())


def test_a_follower_does_not_release_the_leaders_entry(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path
) -> None:
    with make_router(echo_registry, primary.url, tmp_path) as router:
        guard = guard_of(router)
        leader = ask()
        assert guard.before_call(leader) is None
        guard.call_ended(ask())  # another call with the same key ended: not the leader
        assert len(guard._flights) == 1
        guard.call_ended(leader)
        assert guard._flights == {}


def test_an_unreadable_cache_is_a_miss_not_a_failed_call(
    echo_registry: PluginRegistry, primary: StandinServer, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with make_router(echo_registry, primary.url, tmp_path) as router:
        def broken(key: str) -> str | None:
            raise OSError("disk I/O error")

        monkeypatch.setattr(guard_of(router).store, "get", broken)
        assert router.chat(ask()).message.text == "primary says: same prompt"
