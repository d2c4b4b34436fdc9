"""Helpers for the resilience tests (importable: conftest puts this folder on sys.path)."""

from __future__ import annotations

from typing import Any

from polyroute.types import ChatRequest, Message, RoutingHints


class FakeClock:
    """Wall clock for breakers, windows and health; ``sleep`` advances it and records."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.t += seconds

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)


def ask(text: str = "hello", **routing: Any) -> ChatRequest:
    routing.setdefault("agent", "bot")
    return ChatRequest(messages=[Message.user(text)], routing=RoutingHints(**routing))
