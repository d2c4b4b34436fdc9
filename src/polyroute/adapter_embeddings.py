"""What the LangChain and LlamaIndex embedding adapters share: the router they use
(given, or built from a config and owned) and the call they make.

Thin: conversion only. Documents are embedded with ``input_type="document"`` and
queries with ``"query"`` unless told otherwise (providers that distinguish — Cohere,
Gemini — embed them differently, and the per-text cache keys them apart).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from polyroute.embed_types import EmbedResponse, InputType
from polyroute.router import Router

__all__ = ["EmbedTarget"]


class EmbedTarget:
    """A router (``router=`` or built once from ``config=``) plus the call's options."""

    def __init__(self, *, router: Router | None = None,
                 config: Any = None, agent: str | None = None, route: str | None = None,
                 model: str | None = None, dimensions: int | None = None,
                 tags: dict[str, str] | None = None) -> None:
        if router is None and config is None:
            config = os.environ.get("POLYROUTE_CONFIG")
        self._router = router
        self._owned = router is None
        self._config = config
        self._lock = threading.Lock()
        self.options: dict[str, Any] = {"agent": agent, "route": route, "model": model,
                                        "dimensions": dimensions, "tags": dict(tags or {})}

    @property
    def router(self) -> Router:
        if self._router is None:
            with self._lock:
                if self._router is None:
                    self._router = Router(self._config)
        return self._router

    def embed(self, texts: list[str], input_type: InputType | None) -> EmbedResponse:
        return self.router.embed(texts, input_type=input_type, **self.options)

    async def aembed(self, texts: list[str], input_type: InputType | None) -> EmbedResponse:
        return await self.router.aembed(texts, input_type=input_type, **self.options)

    def close(self) -> None:
        if self._owned and self._router is not None:
            self._router.close()
            self._router = None
