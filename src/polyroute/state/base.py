"""The ``StateStore`` seam: every piece of shared router state goes through it.

Breaker states, rate-limit windows, health samples, budget reservations and
cache entries are stored here, so one process, many processes on one host
(SQLite) or many hosts (Redis) share them by swapping the backend, without
touching the code that uses them.

Operations are few and atomic: a backend must make ``incr`` and ``reserve``
safe under concurrency (threads, tasks and — for the shared backends —
processes). Values are JSON-serialisable; keys are plain strings namespaced by
their user (``breaker:openai/gpt-4.1``, ``budget:provider:openai:2026-11-23``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

__all__ = ["StateStore"]


class StateStore(ABC):
    """Shared, atomic key-value state with optional time-to-live (seconds)."""

    @abstractmethod
    def get(self, key: str) -> Any:
        """The value at ``key``, or ``None`` if absent or expired."""

    @abstractmethod
    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` (JSON-serialisable) at ``key``."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key`` if present."""

    @abstractmethod
    def incr(self, key: str, amount: float = 1.0, ttl: float | None = None) -> float:
        """Atomically add ``amount`` to a numeric value (absent counts as 0); return the
        new value. ``ttl`` applies when the key is created."""

    @abstractmethod
    def reserve(self, key: str, amount: float, limit: float, ttl: float | None = None) -> bool:
        """Atomically add ``amount`` only if the result stays ``<= limit``.

        Returns whether it was added. This is what makes budgets and token
        limits hold under concurrency: check and add are one step.
        """

    def close(self) -> None:  # noqa: B027 - optional for backends without resources
        """Release resources (connections, files)."""
