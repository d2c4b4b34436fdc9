"""``routing.deadline.Deadline``: asyncio.timeout's behaviour with one timer per loop —
expiry as TimeoutError at the deadline (never early), a cancellation from outside
still a CancelledError, earlier deadlines added later, nothing left behind."""

from __future__ import annotations

import asyncio
import gc
import random
import time
import weakref

import pytest

from polyroute.routing import deadline as dl
from polyroute.routing.deadline import Deadline


async def _sleep_in(delay: float | None, seconds: float) -> str:
    async with Deadline(delay):
        await asyncio.sleep(seconds)
    return "done"


def test_a_send_past_its_deadline_raises_timeout_error_at_the_deadline() -> None:
    async def main() -> float:
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            await _sleep_in(0.05, 5.0)
        return time.monotonic() - t0

    took = asyncio.run(main())
    assert 0.05 <= took < 0.5


def test_a_send_within_its_deadline_returns_and_leaves_nothing_pending() -> None:
    async def main() -> None:
        assert await _sleep_in(1.0, 0.001) == "done"
        assert await _sleep_in(None, 0.001) == "done"
        assert not dl._per_loop.get(asyncio.get_running_loop()).pending

    asyncio.run(main())


def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    async def main() -> None:
        task = asyncio.ensure_future(_sleep_in(10.0, 10.0))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not dl._per_loop.get(asyncio.get_running_loop()).pending

    asyncio.run(main())


def test_an_outer_asyncio_timeout_wins_over_a_later_deadline() -> None:
    async def main() -> None:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.02):
                await _sleep_in(10.0, 10.0)
        # and the inner deadline turned nothing into TimeoutError on its own: the outer
        # scope's own cancel count is back to zero
        assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]

    asyncio.run(main())


def test_zero_and_negative_deadlines_expire_at_once() -> None:
    async def main() -> None:
        for delay in (0.0, -1.0):
            with pytest.raises(TimeoutError):
                await _sleep_in(delay, 1.0)

    asyncio.run(main())


def test_sends_with_mixed_deadlines_each_expire_at_their_own() -> None:
    """Later sends with earlier deadlines move the one timer; each send ends by its own
    deadline, not another's, and not before it."""
    rnd = random.Random(3)
    plan = [(rnd.choice([0.03, 0.06, 0.12, 5.0]), rnd.choice([0.0, 0.01, 0.09, 0.3]))
            for _ in range(60)]

    async def one(delay: float, seconds: float) -> tuple[str, float]:
        t0 = time.monotonic()
        try:
            await _sleep_in(delay, seconds)
            return "done", time.monotonic() - t0
        except TimeoutError:
            return "timeout", time.monotonic() - t0

    async def main() -> list[tuple[str, float]]:
        tasks = []
        for delay, seconds in plan:
            tasks.append(asyncio.ensure_future(one(delay, seconds)))
            await asyncio.sleep(0.001)
        return await asyncio.gather(*tasks)

    for (delay, seconds), (outcome, took) in zip(plan, asyncio.run(main()), strict=True):
        if seconds + 0.015 < delay:
            assert outcome == "done", (delay, seconds, took)
        elif delay + 0.015 < seconds:
            assert outcome == "timeout" and took >= delay, (delay, seconds, took)
            assert took < delay + 0.25, (delay, seconds, took)


def test_a_closed_loop_is_not_kept_alive() -> None:
    refs = []
    for _ in range(3):
        loop = asyncio.new_event_loop()
        loop.run_until_complete(_sleep_in(600.0, 0.0))
        refs.append(weakref.ref(loop))
        loop.close()
        del loop
    gc.collect()
    assert all(r() is None for r in refs[:-1])  # the last may be the cached one
