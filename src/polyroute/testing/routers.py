"""A ``Router`` over some plugins, for end-to-end plugin tests against stand-ins.

    sleeps = SleepRecorder()
    with router_for(config, my_plugin, sleeps=sleeps) as router:
        main.push(Fault.status(429, retry_after=0.25))
        resp = router.chat(request)
        assert trail(resp) == [("main", "RateLimitError", "retried"), ("main", None, "answered")]
        assert sleeps.waits == [0.25]

Only the given plugins are loaded (no entry points), so a test sees its own
plugin and nothing installed beside it; backoffs are recorded, never slept.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.routing.strategies import with_builtin_strategies
from polyroute.testing.sleeps import SleepRecorder
from polyroute.types import ChatResponse

__all__ = ["router_for", "trail"]


@contextmanager
def router_for(
    config: dict[str, Any], *plugins: object, sleeps: SleepRecorder | None = None,
) -> Iterator[Router]:
    """A ``Router`` for ``config`` with exactly ``plugins`` registered, closed on exit."""
    sleeps = sleeps if sleeps is not None else SleepRecorder()
    registry = with_builtin_strategies(
        PluginRegistry.create(load_entrypoints=False, plugins=list(plugins)))
    router = Router(config, registry=registry, sleep=sleeps, asleep=sleeps.asleep)
    try:
        yield router
    finally:
        router.close()
        # Free the router's reference cycles (tracebacks holding generator frames) now:
        # on CPython 3.11.7 a finalizer run by the GC inside ast.parse makes it fail with
        # "AST constructor recursion depth mismatch" (gh-106905), which a later lazy
        # import under pytest's assertion rewriting would hit.
        gc.collect()


def trail(response: ChatResponse) -> list[tuple[str, str | None, str]]:
    """``(provider, error class name or None, action)`` for each attempt ``response`` made."""
    return [(a.provider, a.error, a.action) for a in response.attempts]
