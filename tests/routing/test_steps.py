"""The drivers of ``routing.steps``: one set of steps, run blocking or awaited, gives
the same results, sees the same failures and is told of the same interruptions.

The router's call logic is written once as such steps; tests/test_router_faults.py
and tests/resilience run every fault scenario through both drivers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from contextlib import AsyncExitStack, ExitStack
from typing import Any

import pytest

from polyroute.routing.steps import Effect, Sleep, Steps, aiterate, arun, iterate, run


class Ask(Effect):
    """A stand-in for I/O: answers ``value`` (or raises ``error``), blocking or awaited."""

    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value, self.error = value, error

    def run(self, streams: ExitStack | None) -> Any:
        if self.error is not None:
            raise self.error
        return self.value

    async def arun(self, streams: AsyncExitStack | None) -> Any:
        await asyncio.sleep(0)
        return self.run(None)


def run_both(make: Any) -> list[Any]:
    """``make()``'s steps under both drivers: ``[sync result, async result]``."""
    return [run(make()), asyncio.run(arun(make()))]


def test_both_drivers_give_the_steps_result_and_sleep_with_the_owners_clock() -> None:
    slept: list[tuple[str, float]] = []

    async def asleep(s: float) -> None:
        slept.append(("async", s))

    def steps() -> Steps[int]:
        a = yield Ask(2)
        yield Sleep(0.25, lambda s: slept.append(("sync", s)), asleep)
        b = yield Ask(3)
        return int(a * b)

    assert run_both(steps) == [6, 6]
    assert slept == [("sync", 0.25), ("async", 0.25)]


def test_a_failing_effect_is_raised_inside_the_steps_which_may_recover() -> None:
    def steps() -> Steps[str]:
        try:
            yield Ask(error=ConnectionError("reset"))
        except ConnectionError as exc:
            return f"recovered from {exc}"
        return "not reached"

    assert run_both(steps) == ["recovered from reset"] * 2


def test_an_uncaught_failure_propagates_unchanged() -> None:
    err = ValueError("bad")

    def steps() -> Steps[None]:
        yield Ask(error=err)

    with pytest.raises(ValueError) as sync_info:
        run(steps())
    assert sync_info.value is err
    with pytest.raises(ValueError) as async_info:
        asyncio.run(arun(steps()))
    assert async_info.value is err


@pytest.mark.parametrize("interruption", [KeyboardInterrupt(), asyncio.CancelledError()])
def test_an_interruption_during_an_effect_reaches_the_steps_then_propagates(
    interruption: BaseException,
) -> None:
    seen: list[str] = []

    def steps() -> Steps[None]:
        try:
            yield Ask(error=interruption)
        except BaseException as exc:  # what the router does: settle the guards, re-raise
            seen.append(type(exc).__name__)
            raise

    with pytest.raises(type(interruption)):
        run(steps())

    async def main() -> None:
        await arun(steps())

    with pytest.raises(type(interruption)):
        asyncio.run(main())
    assert seen == [type(interruption).__name__] * 2


class Resource:
    """A stand-in for an open stream: the drivers close it when the steps end."""

    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


class Open(Effect):
    def __init__(self, resource: Resource) -> None:
        self.resource = resource

    def run(self, streams: ExitStack | None) -> Any:
        assert streams is not None
        streams.callback(self.resource.close)

    async def arun(self, streams: AsyncExitStack | None) -> Any:
        assert streams is not None
        streams.callback(self.resource.close)


def stream_steps(resource: Resource, seen: list[str]) -> Generator[Effect | str, Any, None]:
    yield Open(resource)
    try:
        for word in ("one", "two", "three"):
            yield word
            yield Ask()
    except BaseException as exc:  # the caller stopped reading: settle, re-raise
        seen.append(type(exc).__name__)
        raise


def test_stream_drivers_hand_out_the_chunks_and_close_what_was_opened() -> None:
    sync_res, async_res = Resource(), Resource()
    assert list(iterate(stream_steps(sync_res, []))) == ["one", "two", "three"]

    async def collect() -> list[str]:
        return [w async for w in aiterate(stream_steps(async_res, []))]

    assert asyncio.run(collect()) == ["one", "two", "three"]
    assert sync_res.closed and async_res.closed


def test_a_stream_closed_early_tells_the_steps_and_closes_what_was_opened() -> None:
    sync_res, async_res, seen = Resource(), Resource(), []
    words = iterate(stream_steps(sync_res, seen))
    assert next(words) == "one"
    words.close()  # type: ignore[attr-defined]

    async def first_then_close() -> str:
        agen = aiterate(stream_steps(async_res, seen))
        word = await agen.__anext__()
        await agen.aclose()  # type: ignore[attr-defined]
        return word

    assert asyncio.run(first_then_close()) == "one"
    assert seen == ["GeneratorExit", "GeneratorExit"]
    assert sync_res.closed and async_res.closed
