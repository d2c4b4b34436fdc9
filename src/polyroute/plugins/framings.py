"""Stream framings registered by plugins (``polyroute_register_framings``).

The seam keeps the table, and ``polyroute.framing`` (the transport's layer, above)
reads it when asked for a decoder: the seam never imports the transport's modules.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["plugin_framing", "plugin_framings", "register_plugin_framing"]

_REGISTERED: dict[str, Callable[[], object]] = {}


def register_plugin_framing(name: str, factory: Callable[[], object]) -> None:
    """``HttpRequest(framing=name)`` will decode with ``factory()`` (a ``FramingDecoder``)."""
    _REGISTERED[name] = factory


def plugin_framing(name: str) -> Callable[[], object] | None:
    return _REGISTERED.get(name)


def plugin_framings() -> list[str]:
    return list(_REGISTERED)
