"""The call logic is written once, as steps; a sync and an async driver run them.

A routed call (plan, guards, attempts, retries, fallback, the streaming failure
policy) and the rate limiter's wait are generators that do no I/O: where they
need the outside world they *yield an effect* — ask a guard (``BeforeCall``,
``BeforeAttempt``), ``Send`` a request, ``Sleep``, ``OpenStream``, read its
``NextEvent``, ``CloseStream`` — and receive its result (or its exception,
thrown in at the ``yield``). Each effect has a blocking form (``run``) and an
awaiting form (``arun``); that is the only place sync and async differ. Four thin
drivers run the steps: ``run``/``arun`` for one answer, ``iterate``/``aiterate``
for a stream, which also hand the caller every chunk the steps yield (a read's
chunks as one ``Each``: no trip through the steps per chunk).

Why this shape, not code generated with ``unasync`` (as httpcore does): one source
of truth that a reader can follow, no generated file to keep in step, and the
steps can be driven by hand in a test (send a result, throw a failure) with no
event loop and no network. The cost is one generator step per effect, a fraction
of a microsecond; the async hot path is measured no slower (docs/benchmark.md).

An interruption (``KeyboardInterrupt``, ``asyncio.CancelledError``, a stream closed
early: ``GeneratorExit``) raised while a driver performs an effect or hands out a
chunk is thrown into the steps too, so they settle their guards exactly as when
the logic was written twice; the drivers then close any stream still open.

A store that waits on I/O (SQLite, Redis) is read and written by the guards from
inside the steps (planning skips a candidate with an open circuit, a budget
reserves…). So the async drivers take ``offload`` (the store's): each advance of
the steps, everything between two effects, runs there, off the event loop, while
the effects themselves (a request, a sleep) are awaited on the loop. A paused
Redis then holds only the calls waiting on it. With the in-memory store
``offload`` is ``None`` and the steps advance inline, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Generator, Iterable, Iterator
from contextlib import AsyncExitStack, ExitStack
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar

from polyroute.errors import ProviderError, ProviderTimeoutError
from polyroute.guard_base import Guard
from polyroute.routing.deadline import Deadline

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from polyroute.providers.base import HttpRequest
    from polyroute.refs import Deployment
    from polyroute.transport import Timeouts, Transport
    from polyroute.types import ChatRequest

__all__ = [
    "ASYNC_BEFORE_ATTEMPT",
    "ASYNC_BEFORE_CALL",
    "END",
    "BeforeAttempt",
    "BeforeCall",
    "CloseStream",
    "Each",
    "Effect",
    "NextEvent",
    "Offload",
    "OpenStream",
    "Send",
    "Sleep",
    "Steps",
    "aiterate",
    "arun",
    "iterate",
    "run",
]

T = TypeVar("T")
C = TypeVar("C")

END: Any = object()
"""What ``NextEvent`` returns when the stream has no more events."""

Offload: TypeAlias = "Callable[..., Awaitable[Any]]"
"""Runs sync code off the event loop: ``StateStore.offload``."""

_DONE: Any = object()
_RAISED: Any = object()


# A driver that lets an exception out first drops its own name for it: the exception's
# traceback holds the driver's frame, so a local still naming it is a cycle
# (exception -> traceback -> frame -> exception) that only the cyclic GC frees, with
# all the call's frames and objects (a stream the caller left: ~50 objects per call).
def _advance(steps: Generator[Any, Any, Any], value: Any,
             error: BaseException | None) -> tuple[Any, Any]:
    """One advance of ``steps`` as a value (``StopIteration`` cannot cross a future):
    ``(item, None)``, ``(_DONE, return value)`` or ``(_RAISED, exception)``."""
    try:
        return (steps.send(value) if error is None else steps.throw(error)), None
    except StopIteration as done:
        return _DONE, done.value
    except BaseException as exc:  # re-raised by the driver, on the loop
        error = None  # no reference cycle (the note above)
        return _RAISED, exc


async def _offloaded(steps: Generator[Any, Any, Any], value: Any, error: BaseException | None,
                     offload: Offload) -> tuple[Any, Any]:
    """``_advance`` run by ``offload``; ``(_DONE, value)`` or ``(item, None)``, or raises
    what the steps raised. A cancellation that arrives meanwhile is thrown into the
    steps once their advance ends (offload waits for it), so they settle their
    guards as they would inline."""
    while True:
        try:
            item, result = await offload(_advance, steps, value, error)
        except asyncio.CancelledError as exc:
            value, error = None, exc
            continue
        if item is _RAISED:
            error = None  # no reference cycle: see _advance
            try:
                raise result
            finally:
                result = None
        return item, result


class Effect:
    """Something the steps need done: ``run`` does it blocking, ``arun`` awaiting.
    ``streams`` is the driver's scope for open streams (``None`` outside a stream)."""

    __slots__ = ()

    def run(self, streams: ExitStack | None) -> Any:
        raise NotImplementedError  # pragma: no cover

    async def arun(self, streams: AsyncExitStack | None) -> Any:
        raise NotImplementedError  # pragma: no cover


Steps: TypeAlias = Generator[Effect, Any, T]
"""Steps that end with a ``T`` (the generator's return value)."""


class _Overrides(dict[type[Guard], bool]):
    """``{guard class: does it override the async hook}``, filled on first lookup.
    Only a guard that overrides ``abefore_call``/``abefore_attempt`` may act
    differently awaited, so only for it is the hook an effect; for any other the
    steps call the blocking form directly (the default async form does just that)."""

    def __init__(self, hook: str) -> None:
        super().__init__()
        self.hook = hook

    def __missing__(self, cls: type[Guard]) -> bool:
        found = self[cls] = getattr(cls, self.hook) is not getattr(Guard, self.hook)
        return found


ASYNC_BEFORE_CALL = _Overrides("abefore_call")
ASYNC_BEFORE_ATTEMPT = _Overrides("abefore_attempt")


class BeforeCall(Effect):
    """A guard's chance to answer without calling a provider (a cache hit)."""

    __slots__ = ("guard", "request")

    def __init__(self, guard: Guard, request: ChatRequest) -> None:
        self.guard, self.request = guard, request

    def run(self, streams: ExitStack | None) -> Any:
        return self.guard.before_call(self.request)

    async def arun(self, streams: AsyncExitStack | None) -> Any:
        return await self.guard.abefore_call(self.request)


class BeforeAttempt(Effect):
    """A guard's ticket for one attempt (it may wait: a rate limit)."""

    __slots__ = ("dep", "guard", "request")

    def __init__(self, guard: Guard, dep: Deployment, request: ChatRequest) -> None:
        self.guard, self.dep, self.request = guard, dep, request

    def run(self, streams: ExitStack | None) -> Any:
        return self.guard.before_attempt(self.dep, self.request)

    async def arun(self, streams: AsyncExitStack | None) -> Any:
        return await self.guard.abefore_attempt(self.dep, self.request)


class Sleep(Effect):
    """Wait ``seconds`` with the owner's clock (tests inject recorders)."""

    __slots__ = ("asleep", "seconds", "sleep")

    def __init__(self, seconds: float, sleep: Callable[[float], None],
                 asleep: Callable[[float], Awaitable[Any]]) -> None:
        self.seconds, self.sleep, self.asleep = seconds, sleep, asleep

    def run(self, streams: ExitStack | None) -> None:
        self.sleep(self.seconds)

    async def arun(self, streams: AsyncExitStack | None) -> None:
        await self.asleep(self.seconds)


class Send(Effect):
    """One request, whole answer: an ``HttpResponse``. Async also bounds it by the
    call's remaining total timeout (the sync client's socket timeouts do that)."""

    __slots__ = ("dep", "http", "remaining", "timeouts", "transport")

    def __init__(self, transport: Transport, http: HttpRequest, timeouts: Timeouts,
                 dep: Deployment, remaining: float | None) -> None:
        self.transport, self.http, self.timeouts = transport, http, timeouts
        self.dep, self.remaining = dep, remaining

    def run(self, streams: ExitStack | None) -> Any:
        dep = self.dep
        return self.transport.send(self.http, self.timeouts, provider=dep.provider,
                                   model=dep.model, remaining=self.remaining)

    async def arun(self, streams: AsyncExitStack | None) -> Any:
        dep = self.dep
        # asyncio.timeout's job with one timer per loop (routing/deadline.py)
        deadline = Deadline.start(self.remaining)
        try:
            try:
                got = await self.transport.asend(
                    self.http, self.timeouts, provider=dep.provider, model=dep.model,
                    remaining=self.remaining,
                )
            except asyncio.CancelledError as exc:
                if deadline is not None and deadline.done(asyncio.CancelledError):
                    raise TimeoutError from exc
                raise
            finally:
                if deadline is not None:
                    deadline.done(None)
            return got
        except TimeoutError as exc:
            if isinstance(exc, ProviderError):
                raise
            raise ProviderTimeoutError("total timeout reached", provider=dep.provider,
                                       model=dep.model) from exc


class OpenStream(Effect):
    """Open a streamed request: ``(handle, error_response, events)``. ``handle`` is
    for ``CloseStream``; the driver closes it anyway when the steps end."""

    __slots__ = ("dep", "http", "remaining", "timeouts", "transport")

    def __init__(self, transport: Transport, http: HttpRequest, timeouts: Timeouts,
                 dep: Deployment, remaining: float | None) -> None:
        self.transport, self.http, self.timeouts = transport, http, timeouts
        self.dep, self.remaining = dep, remaining

    def run(self, streams: ExitStack | None) -> Any:
        assert streams is not None, "OpenStream needs a stream driver (iterate)"
        handle = streams.enter_context(ExitStack())
        error, events = handle.enter_context(self.transport.stream(
            self.http, self.timeouts, provider=self.dep.provider, model=self.dep.model,
            remaining=self.remaining,
        ))
        return handle, error, events

    async def arun(self, streams: AsyncExitStack | None) -> Any:
        assert streams is not None, "OpenStream needs a stream driver (aiterate)"
        handle = await streams.enter_async_context(AsyncExitStack())
        error, events = await handle.enter_async_context(self.transport.astream(
            self.http, self.timeouts, provider=self.dep.provider, model=self.dep.model,
            remaining=self.remaining,
        ))
        return handle, error, events


class NextEvent(Effect):
    """What the stream's event iterator yields next, or ``END``: from ``Transport`` a
    list of the events one network read completed (one trip through the steps per
    read, not per event); a third party's transport may yield single events.
    One per stream, yielded for every read."""

    __slots__ = ("events",)

    def __init__(self, events: Any) -> None:
        self.events = events

    def run(self, streams: ExitStack | None) -> Any:
        return next(self.events, END)

    async def arun(self, streams: AsyncExitStack | None) -> Any:
        return await anext(self.events, END)


class CloseStream(Effect):
    """Close a stream ``OpenStream`` opened (its connection goes back to the pool)."""

    __slots__ = ("handle",)

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def run(self, streams: ExitStack | None) -> None:
        self.handle.close()

    async def arun(self, streams: AsyncExitStack | None) -> None:
        await self.handle.aclose()


class Each(Generic[C]):
    """Yielded by streaming steps: hand the caller every item of ``items`` (read lazily,
    one at a time) with no trip through the steps for each; the steps get ``None`` back
    once all are out. What reading ``items`` raises, and what interrupts the caller
    (a stream closed early), is thrown into the steps at this ``yield``."""

    __slots__ = ("items",)

    def __init__(self, items: Iterable[C]) -> None:
        self.items = items


# --- drivers: the only loops that know whether they block or await ----------------

def run(steps: Steps[T]) -> T:
    """Run ``steps`` with blocking I/O; their return value."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            effect = steps.send(value) if error is None else steps.throw(error)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        except BaseException:
            error = None  # no reference cycle: see _advance
            raise
        try:
            value, error = effect.run(None), None
        except BaseException as exc:  # told to the steps, which settle and re-raise
            value, error = None, exc


async def arun(steps: Steps[T], offload: Offload | None = None) -> T:
    """Run ``steps`` awaiting their I/O; their return value. ``offload``: advance the
    steps there (a store that waits on I/O), not on the loop."""
    value: Any = None
    error: BaseException | None = None
    while True:
        try:
            if offload is not None:
                effect, result = await _offloaded(steps, value, error, offload)
                if effect is _DONE:
                    return result  # type: ignore[no-any-return]
            else:
                effect = steps.send(value) if error is None else steps.throw(error)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]
        except BaseException:
            error = None  # no reference cycle: see _advance
            raise
        try:
            value, error = await effect.arun(None), None
        except BaseException as exc:  # CancelledError too: the steps settle, re-raise
            value, error = None, exc


def iterate(steps: Generator[Effect | Each[C] | C, Any, None]) -> Iterator[C]:
    """Run streaming ``steps`` with blocking I/O, yielding what is not an effect (and
    every item of an ``Each``)."""
    with ExitStack() as streams:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                item = steps.send(value) if error is None else steps.throw(error)
            except StopIteration:
                return
            except BaseException:
                error = None  # no reference cycle: see _advance
                raise
            try:
                if isinstance(item, Effect):
                    value = item.run(streams)
                elif isinstance(item, Each):
                    yield from item.items
                    value = None
                else:
                    value = yield item
                error = None
            except BaseException as exc:  # GeneratorExit: the caller stopped reading
                value, error = None, exc


async def aiterate(steps: Generator[Effect | Each[C] | C, Any, None],
                   offload: Offload | None = None) -> AsyncIterator[C]:
    """Run streaming ``steps`` awaiting their I/O, yielding what is not an effect (and
    every item of an ``Each``, read on the loop). ``offload``: as for ``arun``."""
    async with AsyncExitStack() as streams:
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                if offload is not None:
                    item, _ = await _offloaded(steps, value, error, offload)
                    if item is _DONE:
                        return
                else:
                    item = steps.send(value) if error is None else steps.throw(error)
            except StopIteration:
                return
            except BaseException:
                error = None  # no reference cycle: see _advance
                raise
            try:
                if isinstance(item, Effect):
                    value = await item.arun(streams)
                elif isinstance(item, Each):
                    for one in item.items:
                        yield one
                    value = None
                else:
                    value = yield item
                error = None
            except BaseException as exc:  # GeneratorExit, CancelledError: settle first
                value, error = None, exc
