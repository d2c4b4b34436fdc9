"""Calendar-aligned budget windows: hour, day, week (Monday), month, in a time zone.

A window is identified by its start in local time (``day:2026-11-23``), so every
process on a host (and every host, with Redis) agrees on the key without talking
to each other. The current window is memoised until it ends: per call this is a
clock read and a comparison.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from polyroute.config.cost import zone  # re-exported: budgets' time zones are config's

__all__ = ["Window", "WindowClock", "window_at", "zone"]


@dataclass(frozen=True, slots=True)
class Window:
    id: str
    """``day:2026-11-23``; ``total`` for the window that never resets."""
    start: float
    """Epoch seconds; ``0`` for ``total``."""
    end: float | None
    """Epoch seconds when the next window starts; ``None`` for ``total``."""

    @property
    def resets_at(self) -> str | None:
        if self.end is None:
            return None
        return datetime.fromtimestamp(self.end, UTC).isoformat(timespec="seconds")


def window_at(per: str, tz: tzinfo, now: float) -> Window:
    """The ``per`` window (hour/day/week/month/total) containing epoch ``now`` in ``tz``."""
    if per == "total":
        return Window("total", 0.0, None)
    local = datetime.fromtimestamp(now, tz)
    if per == "hour":
        start = local.replace(minute=0, second=0, microsecond=0)
        end = _add(start, hours=1, tz=tz)
        label = start.strftime("%Y-%m-%dT%H")
    elif per == "day":
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        end = _add(start, days=1, tz=tz)
        label = start.strftime("%Y-%m-%d")
    elif per == "week":
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        start = _add(day, days=-day.weekday(), tz=tz)
        end = _add(start, days=7, tz=tz)
        label = start.strftime("%G-W%V")
    elif per == "month":
        start = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        nxt = (start.replace(year=start.year + 1, month=1) if start.month == 12
               else start.replace(month=start.month + 1))
        end = nxt.replace(tzinfo=tz)
        label = start.strftime("%Y-%m")
    else:
        raise ValueError(f"unknown window '{per}'")
    return Window(f"{per}:{label}", start.timestamp(), end.timestamp())


def _add(dt: datetime, *, tz: tzinfo, days: int = 0, hours: int = 0) -> datetime:
    # Wall-clock arithmetic (a "day" across a DST change is 23 or 25 hours),
    # except hours, which are absolute.
    if hours:
        return datetime.fromtimestamp(dt.timestamp() + hours * 3600, tz)
    naive = dt.replace(tzinfo=None) + timedelta(days=days)
    return naive.replace(tzinfo=tz)


class WindowClock:
    """The current window for one ``per``/time zone, recomputed only when it ends."""

    __slots__ = ("_clock", "_current", "per", "tz")

    def __init__(self, per: str, tz: tzinfo, clock: object = time.time) -> None:
        self.per = per
        self.tz = tz
        self._clock = clock
        self._current: Window | None = None

    def now(self) -> float:
        return self._clock()  # type: ignore[operator, no-any-return]

    def current(self) -> Window:
        now = self.now()
        w = self._current
        if w is None or (w.end is not None and now >= w.end) or now < w.start:
            w = self._current = window_at(self.per, self.tz, now)
        return w
