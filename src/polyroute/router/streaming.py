"""Routed streams and the streaming failure policy (``streaming.on_failure``).

- ``fallback`` (default): until the first content chunk a failure (error status,
  connection cut, in-band error event, a body that ends without content, no first
  token in time) moves on to the next candidate; after it, the stream raises
  ``StreamInterruptedError`` — it never ends as a silent success.
- ``continue``: a failure after content has been sent asks the next candidate
  to continue from the partial text (the partial answer is sent back as the
  assistant's message, then ``streaming.continue_prompt``); the caller sees one
  stream, the usage of every segment is summed on the last chunk, and the
  attempts say which model was cut and who continued. Partial tool calls cannot
  be continued: that raises.
- ``fail``: no fallback at all (retries of opening the stream still apply).

Mid-stream failures are: the connection cut, an in-band error event, a body
that ends without its terminal event, and a stall past ``timeouts.chunk``.
This is a mixin of ``Router``; it holds the stream half of the router. Like
``chat``/``achat``, ``stream`` and ``astream`` run the same steps (``_stream``):
``routing.steps.iterate`` drives them blocking, ``aiterate`` awaiting.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Generator, Iterator
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from polyroute.errors import ContentPolicyError, ProviderError, StreamInterruptedError
from polyroute.routing.call import Call, as_provider_error
from polyroute.routing.guards import CandidateSkipped
from polyroute.routing.plan import Deployment
from polyroute.routing.steps import CloseStream, Each, Effect, Steps, aiterate, iterate
from polyroute.routing.streams import Relay, Source, replay
from polyroute.tokens import estimate_text_tokens, prompt_tokens
from polyroute.trusted_models import trusted
from polyroute.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    Message,
    TextPart,
    Usage,
    assign,
)

if TYPE_CHECKING:
    from polyroute.config.schema import PolyrouteConfig
    from polyroute.cost.book import PriceBook
    from polyroute.plugins.manager import PluginRegistry
    from polyroute.resilience.health import HealthTracker
    from polyroute.routing.guards import Guard
    from polyroute.state import StateStore
    from polyroute.types import ModelInfo

__all__ = ["Continuation", "Opened", "StreamingMixin"]

_MID = "gave up mid-stream (content was already sent; no fallback)"


class Continuation:
    """What earlier candidates already streamed (``continue`` policy), and each cut
    segment's deployment and usage: a segment is charged at its own deployment's price."""

    __slots__ = ("segments", "text", "usage")

    def __init__(self) -> None:
        self.text = ""
        self.usage = Usage()
        self.segments: list[tuple[Deployment, Usage]] = []

    def add(self, relay: Relay, request: ChatRequest) -> ChatResponse:
        """Keep ``relay``'s text; the segment as a response, with its usage (estimated
        when the provider was cut before reporting it), for the guards to settle."""
        u = relay.usage or Usage(input_tokens=prompt_tokens(request))
        if not u.output_tokens and relay.text:  # cut before the provider reported usage
            u = u.model_copy(update={"output_tokens": estimate_text_tokens(relay.text)})
        self.usage = _add(self.usage, u)
        self.text += relay.text
        self.segments.append((relay.dep, u))
        partial = relay.response()
        partial.usage = u
        return partial

    def request(self, original: ChatRequest, prompt: str) -> ChatRequest:
        if not self.text:
            return original
        messages = [*original.messages, Message.assistant(self.text), Message.user(prompt)]
        return original.model_copy(update={"messages": messages})


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(**{k: getattr(a, k) + getattr(b, k) for k in Usage.model_fields})


class Opened:
    """A stream opened up to its first content: what the relay needs next."""

    __slots__ = ("handle", "source", "tickets")

    def __init__(self, handle: Any, source: Source, tickets: list[Any] | None) -> None:
        self.handle, self.source, self.tickets = handle, source, tickets


Chunks: TypeAlias = Generator[Effect | Each[ChatChunk] | ChatChunk, Any, None]
"""Streaming steps: effects for the driver, chunks (one by one, or a read's ``Each``)
for the caller."""


class StreamingMixin:
    """``stream``/``astream`` of ``Router``."""

    if TYPE_CHECKING:
        config: PolyrouteConfig
        guards: list[Guard]
        health: HealthTracker | None
        registry: PluginRegistry
        _observe_responses: bool
        _ending: list[Guard]
        price_book: PriceBook
        state: StateStore

        def _cached(self, request: ChatRequest) -> Steps[ChatResponse | None]: ...
        def _prepare(self, request: ChatRequest) -> tuple[Call, ChatRequest]: ...
        def _try(self, call: Call, dep: Deployment, request: ChatRequest, *,
                 stream: bool) -> Steps[ChatResponse | Opened]: ...
        def _fail(self, call: Call, exc: ProviderError | None = None, *,
                  final: bool = False) -> Exception: ...
        def _ended(self, steps: Chunks, request: ChatRequest) -> Chunks: ...
        def model_info(self, dep: Deployment) -> ModelInfo | None: ...
        def _assigned(self, request: ChatRequest) -> ChatRequest: ...

    def stream(self, request: ChatRequest) -> Iterator[ChatChunk]:
        """Route ``request`` as a stream (see the module doc for the failure policy)."""
        request = self._assigned(request)
        return iterate(self._ended(self._stream(request), request))

    def astream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Async ``stream``: the same steps, their I/O awaited."""
        request = self._assigned(request)
        state = self.state
        return aiterate(self._ended(self._stream(request), request),
                        None if state.inline else state.offload)

    def _stream(self, request: ChatRequest) -> Chunks:
        if self.guards and (hit := (yield from self._cached(request))) is not None:
            hit.experiment, hit.variant = request.routing.experiment, request.routing.variant
            yield from replay(hit)
            return
        call, request = self._prepare(request)
        scfg = self.config.streaming
        done = Continuation()
        try:
            for dep in call.candidates():
                req = done.request(request, scfg.continue_prompt)
                try:
                    opened = cast(Opened, (yield from self._try(call, dep, req, stream=True)))
                except CandidateSkipped as skip:
                    call.skipped(dep, skip)
                    continue
                except ProviderError as exc:
                    call.candidate_failed(dep, exc)
                    if scfg.on_failure == "fail" or (
                        not exc.fallbackable and not call.follow_policy_chain(exc)
                    ):
                        raise self._fail(call, exc, final=True) from exc
                    continue
                relay, tickets = Relay(dep), opened.tickets
                try:
                    yield from opened.source.relay(relay)
                except Exception as exc:
                    err = self._mid_stream(call, dep, exc, tickets, relay, req, done)
                    yield CloseStream(opened.handle)
                    if err is None:
                        continue
                    try:
                        if err is exc:  # already classified: not its own cause
                            raise err
                        raise err from exc
                    finally:  # a local naming it would hold it in a cycle through
                        del err  # its own traceback (Call.release clears the rest)
                except BaseException as exc:  # closed early, cancelled, interrupted
                    self._abandoned(call, dep, relay, tickets, exc)
                    raise  # the driver closes the stream
                yield self._end_stream(call, dep, relay, tickets, done)
                yield CloseStream(opened.handle)
                return
            raise self._no_candidate_left(call, done)
        finally:
            call.release()

    # --- shared ----------------------------------------------------------------------

    def _first_token(self, call: Call, dep: Deployment, t0: float) -> None:
        attempt = call.succeeded(dep, t0)
        if self.health is not None:
            self.health.first_token(dep, attempt.latency_ms)

    def _mid_stream(
        self, call: Call, dep: Deployment, exc: Exception, tickets: list[Any] | None,
        relay: Relay, request: ChatRequest, done: Continuation,
    ) -> ProviderError | None:
        """Record a failure after content was sent: ``None`` to continue with the next
        candidate (``continue`` policy), else the error to raise."""
        err = as_provider_error(exc, dep)
        # A refusal mid-stream (a safety stop) stays a ContentPolicyError.
        if not isinstance(err, StreamInterruptedError | ContentPolicyError):
            err = StreamInterruptedError(
                f"stream failed after the first chunk: {type(err).__name__}: {err.reason}",
                provider=dep.provider, model=dep.model, status=err.status,
            )
        attempt = call.failed(dep, time.perf_counter(), err)
        if self.config.streaming.on_failure == "continue" and not relay.tools:
            # the cut segment is part of the answer: budgets settle what it cost
            call.after_attempt(dep, tickets, attempt, done.add(relay, request))
            attempt.message = f"{err.reason} — continued by the next candidate " \
                              f"after {len(done.text)} characters"
            err.action = "continued mid-stream with the next candidate"
            call.candidate_failed(dep, err)
            return None
        call.after_attempt(dep, tickets, attempt, None)
        err.action = _MID
        call.candidate_failed(dep, err)
        self._fail(call, None)
        return err

    def _no_candidate_left(self, call: Call, done: Continuation) -> Exception:
        last = call.outcomes[-1].error if call.outcomes else None
        if done.text and isinstance(last, StreamInterruptedError):
            last.action = "gave up mid-stream: no candidate left to continue it"
            self._fail(call, None)
            return last
        return self._fail(call)

    def _abandoned(
        self, call: Call, dep: Deployment, relay: Relay, tickets: list[Any] | None,
        exc: BaseException,
    ) -> None:
        """The caller stopped reading (or was cancelled) mid-stream: settle the guards
        with what was streamed. The provider answered, but the answer's usage
        (and so its cost) usually comes last, so it is not an ordinary ending."""
        call.interrupted(dep, tickets, exc, attempt=call.attempts[-1] if call.attempts
                         else None, response=relay.response())

    def _end_stream(
        self, call: Call, dep: Deployment, relay: Relay, tickets: list[Any] | None,
        done: Continuation,
    ) -> ChatChunk:
        """The final chunk: usage (summed over continued segments), finish reason,
        attempts, latency and cost."""
        usage = relay.usage or Usage()
        cost = self.price_book.cost(dep, usage)
        if done.text:
            usage = _add(done.usage, usage)
            parts = [cost, *(self.price_book.cost(d, u) for d, u in done.segments)]
            cost = None if None in parts else sum(p for p in parts if p is not None)
        final = trusted(  # the router's own values, each of its field's type
            ChatChunk, finish_reason=relay.finish_reason or "stop", usage=usage,
            response_id=relay.response_id, response_model=relay.response_model,
            provider=dep.provider, model=dep.model, attempts=list(call.attempts),
            latency_ms=call.elapsed_ms(), cost_usd=cost, continued=bool(done.text),
            experiment=call.request.routing.experiment, variant=call.request.routing.variant,
        )
        if tickets is not None or self.guards or self._observe_responses:
            resp = relay.response()
            assign(resp, attempts=call.attempts, latency_ms=final.latency_ms or 0.0,
                   cost_usd=final.cost_usd, experiment=final.experiment, variant=final.variant)
            call.after_attempt(dep, tickets, call.attempts[-1], resp)
            if done.text:
                _joined(resp, done)
            for guard in self.guards:
                guard.after_call(call.request, resp)
            if self._observe_responses:
                self.registry.pm.hook.polyroute_on_response(response=resp, request=call.request)
            if resp.cost_usd is not None:  # the cost guard prices from the full price book
                final.cost_usd = resp.cost_usd
            final.call_id = resp.call_id  # the ledger row's id, for feedback
        return final


def _joined(resp: ChatResponse, done: Continuation) -> None:
    """The whole continued answer, flagged in ``provider_metadata['polyroute']``."""
    content = resp.message.content
    parts = [p for p in content if not isinstance(p, TextPart)] if isinstance(content, list) else []
    resp.message = Message(role="assistant",
                           content=[TextPart(text=done.text + resp.message.text), *parts])
    resp.usage = _add(done.usage, resp.usage)
    resp.provider_metadata["polyroute"] = {"continued": True, "continued_after_chars":
                                           len(done.text)}
