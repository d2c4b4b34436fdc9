"""polyroute: one chat model that routes every call across LLM providers.

The public surface is re-exported here; everything else is imported lazily so
``import polyroute`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from polyroute._markers import hookimpl

if TYPE_CHECKING:
    from polyroute.router import Router
    from polyroute.types import ChatRequest, ChatResponse, Message

__all__ = ["ChatRequest", "ChatResponse", "Message", "Router", "__version__", "hookimpl"]
__version__ = "0.1.0"

_LAZY = {
    "Router": "polyroute.router",
    "ChatRequest": "polyroute.types",
    "ChatResponse": "polyroute.types",
    "Message": "polyroute.types",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'polyroute' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
