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
from typing import Any

from polyroute.errors import StreamInterruptedError
from polyroute.providers.base import StreamEvent, StreamParser
from polyroute.providers.bodies import typed_parse
from polyroute.types import ChatChunk, ToolCallDelta
from polyroute_ollama.parse import (
    DURATION_KEYS,
    error_from_body,
    finish_reason,
    tool_calls_from,
    usage_from,
)

__all__ = ["OllamaStreamParser"]


class OllamaStreamParser(StreamParser):
    """Stateful decoder of one ``/api/chat`` stream."""

    def __init__(self, *, provider: str, model: str) -> None:
        self.provider = provider
        self.model = model
        self.response_model: str | None = None
        self.thinking = ""
        self.metadata: dict[str, Any] = {}
        self._calls = 0
        self._done = False
        self._lines = 0

    @typed_parse
    def feed(self, event: StreamEvent) -> Iterable[ChatChunk]:
        if self._done or not event.data.strip():
            return []
        try:
            data: Any = json.loads(event.data)
        except (ValueError, RecursionError):
            raise self._broken(f"line is not JSON: {event.data[:120]!r}") from None
        if not isinstance(data, dict):
            raise self._broken("line is not a JSON object")
        if "error" in data:
            self._done = True
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
                chunks.append(self._chunk(text=text))
            calls = tool_calls_from(message, start=self._calls, provider=self.provider,
                                    model=self.model)
            if calls:
                deltas = [
                    ToolCallDelta(index=self._calls + i, id=c.id, name=c.name,
                                  arguments=json.dumps(c.arguments, ensure_ascii=False))
                    for i, c in enumerate(calls)
                ]
                self._calls += len(calls)
                chunks.append(self._chunk(tool_calls=deltas))
        if data.get("done") is True:
            self._done = True
            self.metadata = {k: data[k] for k in DURATION_KEYS if isinstance(data.get(k), int)}
            if data.get("done_reason") is not None:
                self.metadata["done_reason"] = data["done_reason"]
            chunks.append(self._chunk(
                finish_reason=finish_reason(data.get("done_reason"), tool_calls=self._calls > 0),
                usage=usage_from(data, provider=self.provider, model=self.model),
            ))
        return chunks

    @typed_parse
    def close(self) -> Iterable[ChatChunk]:
        if not self._done:
            why = "stream ended without a done: true line" if self._lines else (
                "stream ended before any line")
            raise self._broken(why)
        return []

    def _chunk(self, **fields: Any) -> ChatChunk:
        return ChatChunk(response_model=self.response_model, provider=self.provider,
                         model=self.model, **fields)

    def _broken(self, why: str) -> StreamInterruptedError:
        return StreamInterruptedError(f"Ollama stream: {why}", provider=self.provider,
                                      model=self.model)
