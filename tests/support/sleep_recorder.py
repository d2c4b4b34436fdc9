"""A stand-in for time.sleep / asyncio.sleep that records the waits."""

from __future__ import annotations


class SleepRecorder:
    """Stands in for time.sleep / asyncio.sleep: records waits, returns at once."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.waits.append(seconds)
