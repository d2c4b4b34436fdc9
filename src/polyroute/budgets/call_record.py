"""What ``CostGuard`` keeps of one call for the usage ledger, and how a call left.

A record lives from the call's first settled attempt until ``after_call``,
``call_failed`` or — for a call that left without either (cancelled, interrupted,
a stream closed early, an exception no guard saw) — ``call_ended``.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from polyroute.errors import NoRouteError
from polyroute.types import Attempt, ChatRequest, ChatResponse, Usage

__all__ = ["NO_USAGE", "CallRecord", "attempt_rows", "error_name", "how_it_left",
           "record_key"]

NO_USAGE = Usage()


@dataclass(slots=True)
class CallRecord:
    request: ChatRequest  # pins the ids of its messages and routing while the call runs
    started: float = field(default_factory=time.time)
    attempts: list[tuple[Attempt, Usage | None, float | None]] = field(default_factory=list)
    stream: bool = False

    def priced(self, response: ChatResponse) -> float | None:
        """The cost already priced for the attempt that gave ``response`` (the same
        deployment and the very same usage object), so ``after_call`` need not price it
        again; ``None``: price it."""
        if not self.attempts:
            return None
        attempt, usage, cost = self.attempts[-1]
        if (cost is None or usage is not response.usage
                or attempt.provider != response.provider or attempt.model != response.model):
            return None
        return cost


def record_key(request: ChatRequest) -> tuple[int, int]:
    """Guards see the router's params-merged copy of a request, except ``call_ended``,
    which gets the caller's: the copy shares both of these with it."""
    return id(request.messages), id(request.routing)


def how_it_left() -> tuple[str, str | None]:
    """``(status, error)`` of the call leaving now (``call_ended`` runs in the
    router's ``finally``, so the exception under way is the reason)."""
    exc = sys.exc_info()[1]
    if exc is None or isinstance(exc, asyncio.CancelledError | GeneratorExit):
        return "cancelled", type(exc).__name__ if exc is not None else None
    if isinstance(exc, Exception):
        return "error", error_name(exc)
    return "interrupted", type(exc).__name__  # KeyboardInterrupt, SystemExit


def error_name(error: Exception | None) -> str | None:
    if error is None:
        return None
    name = type(error).__name__
    if isinstance(error, NoRouteError) and error.last_error is not None:
        name += f"({type(error.last_error).__name__})"
    return name


def attempt_rows(call_id: str, now: float, attempts: list[tuple[Attempt, Usage | None,
                 float | None]]) -> list[tuple[Any, ...]]:
    """One ``attempts`` table row per attempt (``ATTEMPT_COLUMNS`` order)."""
    rows = []
    for n, (a, u, c) in enumerate(attempts, 1):
        u = u or NO_USAGE
        rows.append((
            call_id, n, now, a.provider, a.model, int(a.ok), a.latency_ms, a.error, a.status,
            a.action, u.input_tokens, u.output_tokens, u.cache_read_tokens,
            u.cache_write_tokens, u.reasoning_tokens, c,
        ))
    return rows
