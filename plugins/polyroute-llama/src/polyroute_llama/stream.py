"""Llama API streams (SSE, ``stream: true``) → ``ChatChunk``s.

Reference: https://llama.developer.meta.com/docs/api/chat and ``llama-api-client``
0.6.0's ``CreateChatCompletionResponseStreamChunk``. Each ``data:`` event is
``{"id", "event": {"event_type", "delta", "stop_reason", "metrics"}}``:

- ``start`` then ``progress`` events carry ``delta`` ``{"type": "text", "text"}`` or
  ``{"type": "tool_call", "id", "function": {"name", "arguments"}}`` — a tool call's
  first delta has its ``id`` and name, the following ones argument fragments only;
- ``complete`` carries ``stop_reason``; ``metrics`` carries the token counts;
- an ``event: error`` SSE event is an in-band error. There is no ``[DONE]`` sentinel
  (the SDK parses every event as JSON), so the stream's end is its ``complete`` event:
  a body that ends before one is a ``StreamInterruptedError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from polyroute.providers.base import StreamEvent
from polyroute.providers.bodies import finish_from
from polyroute.providers.streams import JsonEventParser
from polyroute.types import ChatChunk, ToolCallDelta
from polyroute_llama.parse import FINISH_REASONS, classify_error, usage_from_metrics

__all__ = ["LlamaStreamParser"]


class LlamaStreamParser(JsonEventParser):
    """Decodes one streamed Llama API chat completion."""

    label: ClassVar[str] = "Llama API stream"

    def __init__(self, *, provider: str, model: str) -> None:
        super().__init__(provider=provider, model=model)
        self._call_index = -1

    def feed(self, event: StreamEvent) -> Iterable[ChatChunk]:
        if event.data.strip() == "[DONE]":  # not sent by the API; harmless if a proxy adds it
            return []
        payload = self.load_object(event.data)
        if event.event == "error" or ("error" in payload and "event" not in payload):
            self.done = True
            raise classify_error(None, payload, {}, self.provider, self.model, in_stream=True)
        if isinstance(payload.get("id"), str):
            self.response_id = payload["id"]
        body = payload.get("event")
        if not isinstance(body, Mapping):
            raise self.broken("event without an 'event' object")
        out = self._delta(body.get("delta"))
        kind = body.get("event_type")
        if kind == "complete":
            self.done = True
            out.append(self.chunk(finish_reason=finish_from(FINISH_REASONS,
                                                            body.get("stop_reason"))
                                  or "stop"))
        elif kind == "metrics":
            usage = usage_from_metrics(body.get("metrics"), provider=self.provider,
                                       model=self.model)
            if usage is not None:
                out.append(self.chunk(usage=usage))
        return out

    def _delta(self, delta: Any) -> list[ChatChunk]:
        if not isinstance(delta, Mapping):
            return []
        if delta.get("type") == "text":
            text = delta.get("text")
            return [self.chunk(text=text)] if isinstance(text, str) and text else []
        if delta.get("type") == "tool_call":
            fn = delta.get("function")
            fn = fn if isinstance(fn, Mapping) else {}
            call_id = delta.get("id")
            if (isinstance(call_id, str) and call_id) or self._call_index < 0:
                self._call_index += 1  # a new call starts with its id
            name, args = fn.get("name"), fn.get("arguments")
            return [self.chunk(tool_calls=[ToolCallDelta(
                index=self._call_index,
                id=call_id if isinstance(call_id, str) and call_id else None,
                name=name if isinstance(name, str) and name else None,
                arguments=args if isinstance(args, str) else "")])]
        return []

    def close(self) -> Iterable[ChatChunk]:
        if not self.done:
            raise self.broken("the stream ended before its 'complete' event")
        return []
