"""Failover statistics: how often calls moved from one deployment to another, and why.

Counted in the router's ``StateStore`` (``fo:…`` keys), so processes sharing a
store share the counts. A failover is recorded when a candidate fails and the
next one is tried (``from → to``, the reason being the error class), when the
last candidate fails (``from → (none)``), and when a stream is continued by
another model (reason ``stream_continue``).
"""

from __future__ import annotations

from typing import Any

from polyroute.logs import get_logger
from polyroute.resilience.stored import Advisory
from polyroute.state import StateStore

__all__ = ["NONE", "FailoverStats"]

NONE = "(none)"
logger = get_logger("resilience.failover")


def _names(v: Any) -> bool:
    return type(v) is list and all(type(x) is str for x in v)


class FailoverStats:
    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._seen: set[str] = set()
        self._data = Advisory(store, logger, "failover statistics")

    def record(self, src: str, dst: str | None, reason: str) -> None:
        pair = f"{src} -> {dst or NONE}"
        bump = self._data.bump  # statistics: a corrupt count restarts, the call goes on
        bump(f"fo:pair:{pair}", 1)
        bump(f"fo:reason:{reason}", 1)
        bump("fo:total", 1)
        for kind, name in (("pairs", pair), ("reasons", reason)):
            if f"{kind}\0{name}" not in self._seen:  # rare: keep an index for snapshot()
                self._seen.add(f"{kind}\0{name}")
                index = list(self._data.get(f"fo:index:{kind}", _names) or [])
                if name not in index:
                    self.store.set(f"fo:index:{kind}", [*index, name])

    def snapshot(self) -> dict[str, Any]:
        """``{"total": n, "by_route": {"a -> b": n}, "by_reason": {"server": n}}``."""
        g, names = self._data.number, self._data.get
        pairs = {p: int(g(f"fo:pair:{p}")) for p in names("fo:index:pairs", _names) or []}
        reasons = {r: int(g(f"fo:reason:{r}")) for r in names("fo:index:reasons", _names) or []}
        return {
            "total": int(g("fo:total")),
            "by_route": dict(sorted(pairs.items(), key=lambda kv: -kv[1])),
            "by_reason": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        }
