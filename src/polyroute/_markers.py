"""The pluggy markers, on their own so ``import polyroute`` stays cheap (plugins import
``polyroute.hookimpl`` at their import time; the plugin manager is loaded on first use)."""

from __future__ import annotations

import pluggy

__all__ = ["hookimpl", "hookspec"]

hookimpl = pluggy.HookimplMarker("polyroute")
hookspec = pluggy.HookspecMarker("polyroute")
