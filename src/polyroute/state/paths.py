"""Where a configured file lives. Below config so that state (the SQLite store) and
every layer above it resolve paths the same way; ``polyroute.config.cost`` re-exports it."""

from __future__ import annotations

from pathlib import Path

__all__ = ["resolve_path"]


def resolve_path(path: str, source: str | None) -> Path:
    """``path`` with ``~`` expanded, relative to the config file's folder if it has one."""
    p = Path(path).expanduser()
    if not p.is_absolute() and source:
        p = Path(source).resolve().parent / p
    return p
