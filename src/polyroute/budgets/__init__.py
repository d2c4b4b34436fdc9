"""Budgets: scopes, calendar windows, reserve-before / settle-after through the StateStore."""

from polyroute.budgets.windows import Window, WindowClock, window_at, zone

__all__ = ["Window", "WindowClock", "window_at", "zone"]
