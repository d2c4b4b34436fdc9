"""Ollama NDJSON stream lines → ``ChatChunk``s.

Reference: https://github.com/ollama/ollama/blob/main/docs/api.md#chat-request-streaming
and #chat-request-streaming-with-tools — one JSON object per line, each with
a ``message`` fragment and ``done: false``; tool calls arrive whole (name and
arguments object) in one line; the last line has ``done: true``, the
``done_reason``, the token counts and the durations. A mid-stream failure is a
line ``{"error": "..."}`` (https://docs.ollama.com/api/errors).

Chunks: one per content fragment; one per tool-call line (each call a
``ToolCallDelta`` with its id, name and the whole arguments JSON); a final one
at ``done: true`` with finish reason and usage. ``thinking`` fragments
accumulate in ``parser.thinking``; the durations land in ``parser.metadata``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, ClassVar

from polyroute.providers.base import StreamEvent
from polyroute.providers.bodies import typed_parse
from polyroute.providers.streams import JsonEventParser
from polyroute.types import ChatChunk, ToolCallDelta
from polyroute_ollama.parse import (
    DURATION_KEYS,
    error_from_body,
    finish_reason,
    tool_calls_from,
    usage_from,
)

__all__ = ["OllamaStreamParser"]


class OllamaStreamParser(JsonEventParser):
    """Stateful decoder of one ``/api/chat`` stream."""

    label: ClassVar[str] = "Ollama stream"

    def __init__(self, *, provider: str, model: str) -> None:
        super().__init__(provider=provider, model=model)
        self.thinking = ""
        self.metadata: dict[str, Any] = {}
        self._calls = 0
        self._lines = 0

    @typed_parse
    def feed(self, event: StreamEvent) -> Iterable[ChatChunk]:
        if self.done or not event.data.strip():
            return []
        data = self.load_object(event.data, "line")
        if "error" in data:
            self.done = True
            raise error_from_body(event.data.encode(), status=None, headers={},
                                  provider=self.provider, model=self.model)
        self._lines += 1
        if isinstance(data.get("model"), str):
            self.response_model = data["model"]
        chunks: list[ChatChunk] = []
        message = data.get("message")
        if isinstance(message, dict):
            thinking = message.get("thinking")
            if isinstance(thinking, str):
                self.thinking += thinking
            text = message.get("content")
            if isinstance(text, str) and text:
                chunks.append(self.chunk(text=text))
            calls = tool_calls_from(message, start=self._calls, provider=self.provider,
                                    model=self.model)
            if calls:
                deltas = [
                    ToolCallDelta(index=self._calls + i, id=c.id, name=c.name,
                                  arguments=json.dumps(c.arguments, ensure_ascii=False))
                    for i, c in enumerate(calls)
                ]
                self._calls += len(calls)
                chunks.append(self.chunk(tool_calls=deltas))
        if data.get("done") is True:
            self.done = True
            self.metadata = {k: data[k] for k in DURATION_KEYS if isinstance(data.get(k), int)}
            if data.get("done_reason") is not None:
                self.metadata["done_reason"] = data["done_reason"]
            chunks.append(self.chunk(
                finish_reason=finish_reason(data.get("done_reason"), tool_calls=self._calls > 0),
                usage=usage_from(data, provider=self.provider, model=self.model),
            ))
        return chunks

    @typed_parse
    def close(self) -> Iterable[ChatChunk]:
        if not self.done:
            why = "stream ended without a done: true line" if self._lines else (
                "stream ended before any line")
            raise self.broken(why)
        return []
