"""The ``Guard`` base class and ``CandidateSkipped``: the hooks a guard overrides.

Here, below the guards layer, so that a guard living beside the data it reads (the
catalog's context-window guard, the parameter policy's guard) implements the
interface without importing ``polyroute.routing``; ``polyroute.routing.guards``
re-exports both, and documents when each hook runs.
"""

from __future__ import annotations

from typing import Any

from polyroute.errors import PolyrouteError
from polyroute.refs import Deployment
from polyroute.types import Attempt, ChatRequest, ChatResponse

__all__ = ["AWAIT", "CandidateSkipped", "Guard"]

AWAIT: Any = object()
"""``Guard.admit``'s default: the router awaits ``abefore_attempt`` instead."""


class CandidateSkipped(Exception):
    """Raised by ``before_attempt``: do not call this candidate, move to the next.

    ``error``, if set (say ``BudgetExceeded``), is raised to the caller when
    every candidate ends up skipped that way, instead of ``NoRouteError``.
    """

    def __init__(self, reason: str, error: PolyrouteError | None = None) -> None:
        self.reason = reason
        self.error = error
        super().__init__(reason)


class Guard:
    """Base class for guards. Override the hooks you need."""

    name = "guard"

    def skip_reason(self, dep: Deployment, request: ChatRequest) -> str | None:
        """Before planning the call: ``None`` to keep ``dep``, or why it is skipped."""
        return None

    def before_call(self, request: ChatRequest) -> ChatResponse | None:
        """Answer without calling any provider (a cache hit), or ``None``."""
        return None

    async def abefore_call(self, request: ChatRequest) -> ChatResponse | None:
        """Async ``before_call``; override to wait for an identical call in flight."""
        return self.before_call(request)

    def before_attempt(self, dep: Deployment, request: ChatRequest) -> Any:
        """Just before one attempt. Return a ticket (passed to ``after_attempt``);
        raise ``CandidateSkipped`` to skip ``dep``. May block briefly (a rate limit)."""
        return None

    async def abefore_attempt(self, dep: Deployment, request: ChatRequest) -> Any:
        """Async ``before_attempt``; override when waiting should not block the loop."""
        return self.before_attempt(dep, request)

    def admit(self, dep: Deployment, request: ChatRequest) -> Any:
        """For a guard that overrides ``abefore_attempt`` (it may wait): its ticket now,
        or steps that wait for one (a generator of ``routing.steps`` effects, ``Sleep``,
        returning the ticket), which the router runs inside the call's own steps: no
        extra trip to the event loop and back. ``AWAIT`` (the default): the router
        awaits ``abefore_attempt``."""
        return AWAIT

    def outgoing(self, dep: Deployment, request: ChatRequest) -> ChatRequest:
        """The request as ``dep``'s provider will receive it (after ``before_attempt``):
        return ``request`` or a changed copy (the privacy guard masks PII). Never edit
        ``request`` in place: the other candidates get the caller's."""
        return request

    def outgoing_texts(self, dep: Deployment, texts: list[str]) -> list[str]:
        """``outgoing`` for an embedding request: the texts as ``dep``'s provider will
        receive them (a new list when changed; never edit ``texts``)."""
        return texts

    def cancel_attempt(self, dep: Deployment, request: ChatRequest, ticket: Any) -> None:
        """A later guard skipped ``dep`` after this one's ``before_attempt``: undo it
        (release a reservation, say). The attempt never happened."""

    def after_attempt(
        self,
        dep: Deployment,
        request: ChatRequest,
        ticket: Any,
        attempt: Attempt,
        response: ChatResponse | None,
    ) -> None:
        """After one attempt: ``attempt.ok`` says how it went. For a stream this runs
        when the stream ends, with the usage it reported in ``response``."""

    def attempt_interrupted(
        self,
        dep: Deployment,
        request: ChatRequest,
        ticket: Any,
        attempt: Attempt,
        response: ChatResponse | None,
    ) -> None:
        """The attempt was under way when the caller left: a task cancelled, a timeout
        around ``achat``, ``KeyboardInterrupt``, a stream closed early. The call ends
        right after. By default: a stream that had begun answering (``attempt.ok``;
        ``response`` holds what it received) ends as an answered attempt; otherwise
        there is no provider outcome to judge, so the attempt is undone like
        ``cancel_attempt`` (a breaker's probe slot, a busy count) and no breaker or
        cooldown counts it. Runs while the interruption propagates: never raise."""
        if attempt.ok:
            self.after_attempt(dep, request, ticket, attempt, response)
        else:
            self.cancel_attempt(dep, request, ticket)

    def after_call(self, request: ChatRequest, response: ChatResponse) -> None:
        """The call answered (for a stream: once it ended, with the joined answer)."""

    def call_failed(self, request: ChatRequest, error: Exception) -> None:
        """The call raised ``error`` to its caller."""

    def call_ended(self, request: ChatRequest) -> None:
        """The call left the router, however it ended: answered, raised (any exception,
        one from another guard or the state store included), cancelled, or a stream
        closed early. Runs after ``after_call``/``call_failed`` when they ran, alone when
        they did not; ``request`` is the one the caller passed. Release per-call state
        here (an in-flight cache entry, say); never raise."""

    def close(self) -> None:
        """The router is closing: flush and release (a ledger's queue, say)."""
