"""Whether calls leave reference cycles behind: work for CPython's cyclic garbage
collector on every call, which at concurrency 64 cost polyroute ~25 µs a call and a
~30 ms stall every few thousand (docs/benchmark.md, "2026-12-05 05:30").

    left = left_in_cycles(lambda: router.chat(request), calls=20)
    assert not left, left.most_common(8)

``scenario`` runs ``calls`` times with the collector off; then one collection of the
young generation (what the calls made) runs, and what it freed of what polyroute and
its plugins made during those calls is returned, by type: their classes' instances,
and the frames, generators, coroutines and functions of their code (not of
``polyroute.testing``: stand-in servers). Counting only these keeps what other threads
make and free meanwhile (a stand-in server, another test's stores left unclosed) out
of the count.

Logging is off while counting: a handler that keeps its records (pytest's) keeps
what they name alive, which hides a cycle through it. Catch an expected failure with
``try``/``except``, not ``pytest.raises``: that clears the frames of what it catches,
which hides a cycle through them too.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import os
import sys
from collections import Counter
from collections.abc import Callable
from types import CodeType

__all__ = ["left_in_cycles"]

_CODE_OF = {"frame": "f_code", "generator": "gi_code", "coroutine": "cr_code",
            "async_generator": "ag_code", "function": "__code__"}


def left_in_cycles(scenario: Callable[[], object], *, calls: int = 20,
                   loop: asyncio.AbstractEventLoop | None = None) -> Counter[str]:
    """What one collection frees of ours after ``calls`` runs of ``scenario`` made with
    the collector off (see the module doc). The first run is not counted: caches fill.
    A coroutine function runs to its end on ``loop`` each time (one loop for every
    run, as in a server: what the loop keeps is not the calls' doing)."""
    if inspect.iscoroutinefunction(scenario):
        if loop is None:
            raise TypeError("left_in_cycles: an async scenario needs loop=")
        coroutine_function, running = scenario, loop
        scenario = lambda: running.run_until_complete(coroutine_function())  # noqa: E731
    scenario()
    logging.disable(logging.CRITICAL)
    gc.collect()  # everything alive now is in the oldest generation
    gc.disable()
    try:
        ours = _Ours()
        for _ in range(calls):
            scenario()
        # With the collector off, what the calls made (and is still alive) is exactly
        # the young generation: no scan of the whole heap (~1 s in a test process).
        # Ids and kinds only: holding the objects would keep them from being freed.
        made = {id(o): k for o in gc.get_objects(generation=0)
                if (k := ours(o)) is not None}
        # A young-generation collection frees the cycles among them (what the GC's
        # frequent passes pay for under load); its survivors move to generation 1.
        gc.collect(0)
        alive = {id(o) for o in gc.get_objects(generation=1)}
    finally:
        gc.enable()
        logging.disable(logging.NOTSET)
    return Counter(k for i, k in made.items() if i not in alive)


class _Ours:
    """``obj``'s type name (or ``frame``, ``generator``...) when polyroute or a plugin
    made it; else ``None``."""

    def __init__(self) -> None:
        dirs = {os.path.dirname(getattr(m, "__file__", None) or "")
                for name, m in list(sys.modules.items())
                if name.partition(".")[0].startswith("polyroute")}
        testing = os.path.join(os.path.dirname(os.path.abspath(__file__)), "")
        self.dirs = tuple(os.path.join(d, "") for d in dirs if d)
        self.testing = testing
        self.seen: dict[str, bool] = {}

    def _our_code(self, code: CodeType) -> bool:
        name = code.co_filename
        known = self.seen.get(name)
        if known is None:
            known = self.seen[name] = (name.startswith(self.dirs)
                                       and not name.startswith(self.testing))
        return known

    def __call__(self, obj: object) -> str | None:
        kind = type(obj)
        attr = _CODE_OF.get(kind.__name__)
        if attr is not None and kind.__module__ == "builtins":
            code = getattr(obj, attr, None)
            return kind.__name__ if isinstance(code, CodeType) and self._our_code(code) \
                else None
        module = kind.__dict__.get("__module__")
        if (isinstance(module, str) and module.partition(".")[0].startswith("polyroute")
                and not module.startswith("polyroute.testing")):
            return kind.__name__
        return None
