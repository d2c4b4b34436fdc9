"""Context-window overflow: fall back only to a candidate with a larger window.

The planner already skips candidates whose window cannot hold the *estimated*
prompt. Estimates can be wrong (another tokenizer, images, tool schemas), so
a provider may still answer "prompt too long" (``ContextWindowError``). Trying
a model with the same or a smaller window next is a wasted call: this guard
skips, for the rest of that call, every candidate whose catalog window is not
larger than the largest window that overflowed — with the reason, so it shows
in ``NoRouteError``. A candidate whose window is unknown is still tried,
unless it is the very model that overflowed (served by another provider).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from polyroute.guard_base import CandidateSkipped, Guard
from polyroute.refs import Deployment
from polyroute.types import Attempt, ChatRequest, ChatResponse, ModelInfo

__all__ = ["ContextOverflowGuard"]

_MAX_OPEN_CALLS = 4096


@dataclass(slots=True)
class _Overflow:
    request: weakref.ref[ChatRequest]
    window: int | None
    """The largest known window that overflowed (``None``: none known)."""
    culprit: str
    models: set[str]


def _is_overflow(attempt: Attempt) -> bool:
    return not attempt.ok and bool(attempt.error) and "ContextWindow" in (attempt.error or "")


class ContextOverflowGuard(Guard):
    """After a ``ContextWindowError``, skip candidates whose window is not larger."""

    name = "context_overflow"

    def __init__(self, model_info: Callable[[Deployment], ModelInfo | None]) -> None:
        """``model_info``: the catalog entry of a deployment (its context window)."""
        self._info = model_info
        self._calls: dict[int, _Overflow] = {}
        self._lock = threading.Lock()

    def _window(self, dep: Deployment) -> int | None:
        info = self._info(dep)
        return info.context_window if info is not None else None

    def _get(self, request: ChatRequest) -> _Overflow | None:
        with self._lock:
            seen = self._calls.get(id(request))
        if seen is None or seen.request() is not request:
            return None
        return seen

    def after_attempt(
        self, dep: Deployment, request: ChatRequest, ticket: Any, attempt: Attempt,
        response: ChatResponse | None,
    ) -> None:
        if not _is_overflow(attempt):
            return
        window = self._window(dep)
        with self._lock:
            seen = self._calls.get(id(request))
            if seen is None or seen.request() is not request:
                if len(self._calls) >= _MAX_OPEN_CALLS:  # abandoned streams: forget the oldest
                    self._calls.pop(next(iter(self._calls)))
                seen = self._calls[id(request)] = _Overflow(
                    weakref.ref(request), None, dep.key, set()
                )
            seen.models.add(dep.model)
            if window is not None and (seen.window is None or window > seen.window):
                seen.window, seen.culprit = window, dep.key

    def before_attempt(self, dep: Deployment, request: ChatRequest) -> Any:
        seen = self._get(request)
        if seen is None:
            return None
        window = self._window(dep)
        if window is not None and seen.window is not None and window <= seen.window:
            raise CandidateSkipped(
                f"context window {window:,} tokens is not larger than {seen.window:,} "
                f"of {seen.culprit}, which overflowed"
            )
        if window is None and dep.model in seen.models:
            raise CandidateSkipped(f"same model as {seen.culprit}, which overflowed")
        return None

    def _forget(self, request: ChatRequest) -> None:
        with self._lock:
            seen = self._calls.get(id(request))
            if seen is not None and seen.request() is request:
                del self._calls[id(request)]

    def after_call(self, request: ChatRequest, response: ChatResponse) -> None:
        self._forget(request)

    def call_failed(self, request: ChatRequest, error: Exception) -> None:
        self._forget(request)
