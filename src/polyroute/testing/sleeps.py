"""``SleepRecorder``: stands in for ``time.sleep`` / ``asyncio.sleep`` in router tests.

Pass it as ``Router(..., sleep=recorder, asleep=recorder.asleep)``: every backoff
the router would have waited is recorded in ``waits`` and returns at once, so a
test asserts the waits (``Retry-After`` honoured, backoff growing) without
sleeping and without timing margins.
"""

from __future__ import annotations

__all__ = ["SleepRecorder"]


class SleepRecorder:
    """Records each wait it is asked for, in order, and returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.waits.append(seconds)
