"""A stand-in whose answers depend on the prompt (injected failures by row) and that
can hold requests back (a gate), for batch tests."""

from __future__ import annotations

import threading
from typing import Any

import echo_provider

from polyroute.testing.standin import Reply, StandinRequest

SECRET = "sk-live-9f8e7d6c5b4a39281706f5e4d3c2b1a0"


class ScriptedResponder(echo_provider.EchoResponder):
    """Echo answers, except prompts containing ``FAIL-<status>`` get that status. After
    ``open_for`` requests, further ones wait until ``release()``."""

    def __init__(self) -> None:
        super().__init__("standin")
        self.prompts: list[str] = []
        self.open_for: int | None = None
        self._gate = threading.Event()
        self._lock = threading.Lock()

    def release(self) -> None:
        self._gate.set()

    def answer(self, request: StandinRequest) -> Reply:
        prompt = str(request.json()["prompt"])
        with self._lock:
            self.prompts.append(prompt)
            held = self.open_for is not None and len(self.prompts) > self.open_for
        if held:
            self._gate.wait(60)
        for status in (400, 401, 500):
            if f"FAIL-{status}" in prompt:
                # a provider that echoes the key in its error (the 401 case) must not leak it
                return self.error(request, status, f"injected {status}; key {SECRET}")
        return super().answer(request)


def batch_config(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "providers": {"a": {"type": "echo", "base_url": url}},
        "models": {"a/m": {"prices": {"input": 1.0, "output": 2.0}}},
        "agents": {"bot": {"model": "a:m", "max_tokens": 100}},
        "retry": {"attempts": 1},
        "breaker": {"enabled": False},
        **extra,
    }


