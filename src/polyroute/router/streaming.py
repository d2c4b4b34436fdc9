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
This is a mixin of ``Router``; it holds the stream half of the router.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from contextlib import AsyncExitStack, ExitStack
from typing import TYPE_CHECKING, Any

from tenacity import AsyncRetrying, Retrying

from polyroute.errors import ContentPolicyError, ProviderError, StreamInterruptedError
from polyroute.params import for_provider
from polyroute.routing.call import Call, as_provider_error
from polyroute.routing.guards import CandidateSkipped
from polyroute.routing.plan import Deployment
from polyroute.routing.streams import Relay, has_content, replay, until_content
from polyroute.tokens import estimate_text_tokens, prompt_tokens
from polyroute.types import ChatChunk, ChatRequest, ChatResponse, Message, TextPart, Usage

if TYPE_CHECKING:
    from collections.abc import Callable

    from polyroute.config.schema import PolyrouteConfig
    from polyroute.cost.book import PriceBook
    from polyroute.plugins.manager import PluginRegistry
    from polyroute.providers.base import Provider
    from polyroute.resilience.health import HealthTracker
    from polyroute.routing.guards import Guard
    from polyroute.transport import Timeouts, Transport
    from polyroute.types import ModelInfo

__all__ = ["Continuation", "StreamingMixin"]

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


class StreamingMixin:
    """``stream``/``astream`` of ``Router``."""

    if TYPE_CHECKING:
        config: PolyrouteConfig
        guards: list[Guard]
        health: HealthTracker | None
        registry: PluginRegistry
        transport: Transport
        timeouts: Timeouts
        _providers: dict[str, Provider]
        _sleep: Callable[[float], None]
        _asleep: Callable[[float], Any]
        _observe_responses: bool
        price_book: PriceBook

        def _cached(self, request: ChatRequest) -> ChatResponse | None: ...
        async def _acached(self, request: ChatRequest) -> ChatResponse | None: ...
        def _prepare(self, request: ChatRequest) -> tuple[Call, ChatRequest]: ...
        def _retrying(self, call: Call) -> dict[str, Any]: ...
        def _fail(self, call: Call, exc: ProviderError | None = None, *,
                  final: bool = False) -> Exception: ...
        def model_info(self, dep: Deployment) -> ModelInfo | None: ...
        def _call_ended(self, request: ChatRequest) -> None: ...

    # --- sync ----------------------------------------------------------------------

    def stream(self, request: ChatRequest) -> Iterator[ChatChunk]:
        """Route ``request`` as a stream (see the module doc for the failure policy)."""
        try:
            yield from self._stream(request)
        finally:  # also when the caller stops reading early
            self._call_ended(request)

    def _stream(self, request: ChatRequest) -> Iterator[ChatChunk]:
        if self.guards and (hit := self._cached(request)) is not None:
            yield from replay(hit)
            return
        call, request = self._prepare(request)
        scfg = self.config.streaming
        done = Continuation()
        for dep in call.candidates():
            req = done.request(request, scfg.continue_prompt)
            try:
                for attempt in Retrying(sleep=self._sleep, **self._retrying(call)):
                    with attempt:
                        opened = self._open_stream(call, dep, req)
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
            stack, first, rest, tickets = opened
            with stack:
                relay = Relay(dep)
                try:
                    for chunk in first:
                        if relay.take(chunk):
                            yield chunk
                    for chunk in rest:
                        if relay.take(chunk):
                            yield chunk
                except Exception as exc:
                    err = self._mid_stream(call, dep, exc, tickets, relay, req, done)
                    if err is None:
                        continue
                    raise err from exc
                except BaseException as exc:  # closed early, cancelled, interrupted
                    self._abandoned(call, dep, relay, tickets, exc)
                    raise
                yield self._end_stream(call, dep, relay, tickets, done)
            return
        raise self._no_candidate_left(call, done)

    def _open_stream(
        self, call: Call, dep: Deployment, request: ChatRequest
    ) -> tuple[ExitStack, list[ChatChunk], Iterator[ChatChunk], list[Any] | None]:
        tickets = call.before_attempt(dep)
        t0 = call.begin(dep)
        provider = self._providers[dep.provider]
        stack = ExitStack()
        try:
            remaining = call.check_deadline(dep)
            http = provider.build_request(
                for_provider(request, provider, dep.model), dep.model, stream=True
            )
            error, events = stack.enter_context(self.transport.stream(
                http, self.timeouts, provider=dep.provider, model=dep.model, remaining=remaining
            ))
            if error is not None:
                raise provider.parse_error(error, dep.model)
            parser = provider.stream_parser(dep.model)

            def chunks() -> Iterator[ChatChunk]:
                for event in events:
                    yield from parser.feed(event)
                yield from parser.close()

            rest = chunks()
            first = until_content(rest)
        except Exception as exc:
            stack.close()
            err = as_provider_error(exc, dep)
            call.after_attempt(dep, tickets, call.failed(dep, t0, err), None)
            raise err from exc
        except BaseException as exc:  # KeyboardInterrupt while opening: settle, then go on
            call.interrupted(dep, tickets, exc, t0=t0)
            stack.close()
            raise
        self._first_token(call, dep, t0)
        return stack, first, rest, tickets

    # --- async ---------------------------------------------------------------------

    async def astream(self, request: ChatRequest) -> AsyncIterator[ChatChunk]:
        """Async ``stream``."""
        inner = self._astream(request)
        try:
            async for chunk in inner:
                yield chunk
        finally:  # also when the caller stops reading early or is cancelled
            await inner.aclose()
            self._call_ended(request)

    async def _astream(self, request: ChatRequest) -> AsyncGenerator[ChatChunk, None]:
        if self.guards and (hit := (await self._acached(request))) is not None:
            for chunk in replay(hit):
                yield chunk
            return
        call, request = self._prepare(request)
        scfg = self.config.streaming
        done = Continuation()
        for dep in call.candidates():
            req = done.request(request, scfg.continue_prompt)
            try:
                async for attempt in AsyncRetrying(sleep=self._asleep, **self._retrying(call)):
                    with attempt:
                        opened = await self._aopen_stream(call, dep, req)
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
            stack, first, rest, tickets = opened
            async with stack:
                relay = Relay(dep)
                try:
                    for chunk in first:
                        if relay.take(chunk):
                            yield chunk
                    async for chunk in rest:
                        if relay.take(chunk):
                            yield chunk
                except Exception as exc:
                    err = self._mid_stream(call, dep, exc, tickets, relay, req, done)
                    if err is None:
                        continue
                    raise err from exc
                except BaseException as exc:  # closed early, cancelled, interrupted
                    self._abandoned(call, dep, relay, tickets, exc)
                    raise
                yield self._end_stream(call, dep, relay, tickets, done)
            return
        raise self._no_candidate_left(call, done)

    async def _aopen_stream(
        self, call: Call, dep: Deployment, request: ChatRequest
    ) -> tuple[AsyncExitStack, list[ChatChunk], AsyncIterator[ChatChunk], list[Any] | None]:
        from polyroute.router.core import _timeout_as_provider

        tickets = await call.abefore_attempt(dep)
        t0 = call.begin(dep)
        provider = self._providers[dep.provider]
        stack = AsyncExitStack()
        try:
            remaining = call.check_deadline(dep)
            http = provider.build_request(
                for_provider(request, provider, dep.model), dep.model, stream=True
            )
            error, events = await stack.enter_async_context(self.transport.astream(
                http, self.timeouts, provider=dep.provider, model=dep.model, remaining=remaining
            ))
            if error is not None:
                raise provider.parse_error(error, dep.model)
            parser = provider.stream_parser(dep.model)

            async def chunks() -> AsyncIterator[ChatChunk]:
                async for event in events:
                    for chunk in parser.feed(event):
                        yield chunk
                for chunk in parser.close():
                    yield chunk

            rest = chunks()
            first: list[ChatChunk] = []
            async for chunk in rest:
                first.append(chunk)
                if has_content(chunk):
                    break
            if not first or not has_content(first[-1]):
                raise StreamInterruptedError("stream ended before any content")
        except Exception as exc:
            err = as_provider_error(_timeout_as_provider(exc, dep), dep)
            # settled before the await: a cancellation there must not skip it
            call.after_attempt(dep, tickets, call.failed(dep, t0, err), None)
            await stack.aclose()
            raise err from exc
        except BaseException as exc:  # cancelled while opening: settle before any await
            call.interrupted(dep, tickets, exc, t0=t0)
            await stack.aclose()
            raise
        self._first_token(call, dep, t0)
        return stack, first, rest, tickets

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
        final = ChatChunk(
            finish_reason=relay.finish_reason or "stop", usage=usage,
            response_id=relay.response_id, response_model=relay.response_model,
            provider=dep.provider, model=dep.model, attempts=call.attempts,
            latency_ms=call.elapsed_ms(), cost_usd=cost, continued=bool(done.text),
        )
        if tickets is not None or self.guards or self._observe_responses:
            resp = relay.response()
            resp.attempts, resp.latency_ms = call.attempts, final.latency_ms or 0.0
            resp.cost_usd = final.cost_usd
            call.after_attempt(dep, tickets, call.attempts[-1], resp)
            if done.text:
                _joined(resp, done)
            for guard in self.guards:
                guard.after_call(call.request, resp)
            if self._observe_responses:
                self.registry.pm.hook.polyroute_on_response(response=resp, request=call.request)
            if resp.cost_usd is not None:  # the cost guard prices from the full price book
                final.cost_usd = resp.cost_usd
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
