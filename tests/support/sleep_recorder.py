"""Kept for the core tests' imports: the recorder now lives in ``polyroute.testing``."""

from __future__ import annotations

from polyroute.testing.sleeps import SleepRecorder

__all__ = ["SleepRecorder"]
