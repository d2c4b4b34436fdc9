"""``ThreadOffload``: blocks of sync store code run on worker threads, results and
errors back on the loop, a cancelled caller waiting for its block to end, threads
added only while every one is busy, close and restart."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from polyroute.state.offload import ThreadOffload


def test_results_and_errors_come_back_to_each_caller() -> None:
    pool = ThreadOffload("t", 8)

    def work(i: int) -> int:
        if i % 7 == 3:
            raise KeyError(i)
        time.sleep(0.0005 * (i % 3))
        return i * i

    async def main() -> list[object]:
        return await asyncio.gather(*(pool.run(work, i) for i in range(200)),
                                    return_exceptions=True)

    got = asyncio.run(main())
    for i, value in enumerate(got):
        if i % 7 == 3:
            assert isinstance(value, KeyError) and value.args == (i,)
        else:
            assert value == i * i
    pool.close()


def test_a_cancelled_caller_waits_for_its_block_to_end() -> None:
    pool = ThreadOffload("t", 2)
    ended = threading.Event()

    def block() -> str:
        time.sleep(0.1)
        ended.set()
        return "done"

    async def main() -> None:
        task = asyncio.ensure_future(pool.run(block))
        await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert ended.is_set()  # never abandoned half-way

    asyncio.run(main())
    pool.close()


def test_threads_are_added_only_while_all_are_busy_and_a_held_one_blocks_no_other() -> None:
    pool = ThreadOffload("t", 4)
    release = threading.Event()
    names: set[str] = set()

    def held() -> None:
        names.add(threading.current_thread().name)
        release.wait(5)

    def quick() -> str:
        names.add(threading.current_thread().name)
        return "quick"

    async def main() -> None:
        for _ in range(50):  # one at a time: one thread is enough
            assert await pool.run(quick) == "quick"
        assert len(names) == 1
        holders = [asyncio.ensure_future(pool.run(held)) for _ in range(3)]
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        assert await pool.run(quick) == "quick"  # a fourth thread, not a wait
        assert time.monotonic() - t0 < 1.0
        assert len(names) == 4
        release.set()
        await asyncio.gather(*holders)

    asyncio.run(main())
    pool.close()


def test_past_the_limit_a_block_waits_for_a_free_thread() -> None:
    pool = ThreadOffload("t", 2)
    release = threading.Event()

    async def main() -> None:
        holders = [asyncio.ensure_future(pool.run(release.wait, 5)) for _ in range(2)]
        await asyncio.sleep(0.05)
        late = asyncio.ensure_future(pool.run(lambda: "late"))
        await asyncio.sleep(0.05)
        assert not late.done()
        release.set()
        assert await late == "late"
        await asyncio.gather(*holders)

    asyncio.run(main())
    pool.close()


def test_closed_pools_restart_and_loops_come_and_go() -> None:
    pool = ThreadOffload("t", 4)
    for _ in range(3):  # a new loop each time, as asyncio.run makes
        assert asyncio.run(pool.run(lambda: 41)) == 41
        pool.close()
    assert asyncio.run(pool.run(lambda: 42)) == 42
    pool.close()


def test_workers_must_be_positive() -> None:
    with pytest.raises(ValueError, match="workers must be >= 1"):
        ThreadOffload("t", 0)
