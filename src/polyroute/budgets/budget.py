"""``Budget``: one compiled ``budgets:`` entry — who it applies to, its current window,
and the state-store keys its counters live under."""

from __future__ import annotations

import time
from typing import Any

from polyroute.budgets.windows import Window, WindowClock, zone
from polyroute.config.cost import BudgetConfig
from polyroute.refs import Deployment, parse_model_ref
from polyroute.types import ChatRequest

__all__ = ["Budget"]

_SLACK = 3600.0  # window keys outlive their window by this much (late settles)


class Budget:
    """A compiled ``BudgetConfig``: who it applies to and its current window."""

    __slots__ = ("cfg", "clock", "kind", "label", "match", "prefix")

    def __init__(self, cfg: BudgetConfig, clock: Any = time.time) -> None:
        self.cfg = cfg
        self.label = cfg.label
        kind, _, value = cfg.scope.partition(":")
        self.kind = kind
        self.match: Any = value
        if kind == "model" and (":" in value or "/" in value):
            self.match = parse_model_ref(value)
        elif kind == "tag":
            k, _, v = value.partition("=")
            self.match = (k.strip(), v.strip())
        self.prefix = f"budget:{cfg.scope}:"
        self.clock = (None if cfg.per == "request"
                      else WindowClock(cfg.per, zone(cfg.timezone), clock))

    def applies(self, dep: Deployment, request: ChatRequest, agent_tags: dict[str, str]) -> bool:
        kind, m = self.kind, self.match
        if kind == "global":
            return True
        if kind == "provider":
            return bool(dep.provider == m)
        if kind == "model":
            return (dep.provider, dep.model) == m if isinstance(m, tuple) else dep.model == m
        if kind == "agent":
            return bool(request.routing.agent == m)
        k, v = m
        return bool(request.routing.tags.get(k, agent_tags.get(k)) == v)

    def window(self) -> Window:
        assert self.clock is not None
        return self.clock.current()

    def key(self, window: Window) -> str:
        return self.prefix + window.id

    def ttl(self, window: Window) -> float | None:
        if window.end is None:
            return None
        return max(1.0, window.end - time.time() + _SLACK)
