"""Mistral chat completion streams (SSE ``chat.completion.chunk`` events) → ``ChatChunk``s.

Reference: https://docs.mistral.ai/api/#tag/chat (``stream: true``: "tokens
will be sent as data-only server-sent events as they become available, with
the stream terminated by a ``data: [DONE]`` message").

Unlike OpenAI, usage needs no ``stream_options``: the chunk that carries the
``finish_reason`` also carries ``usage``. Tool calls usually arrive whole in
one delta (id, name and the complete ``arguments``), keyed by ``index``.
Reasoning models stream ``thinking`` content chunks, kept in ``parser.thinking``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from polyroute.errors import InvalidResponseError, StreamInterruptedError
from polyroute.providers.base import StreamEvent, StreamParser
from polyroute.providers.bodies import typed_parse
from polyroute.types import ChatChunk, ToolCallDelta
from polyroute_mistral.errors import classify_error
from polyroute_mistral.parse import content_text, finish_reason, usage_from

__all__ = ["MistralStreamParser"]


class MistralStreamParser(StreamParser):
    """Decodes one streamed Mistral chat completion."""

    def __init__(self, *, provider: str, model: str) -> None:
        self.provider = provider
        self.model = model
        self.done = False
        self.thinking: list[str] = []
        self.response_id: str | None = None
        self.response_model: str | None = None

    @typed_parse
    def feed(self, event: StreamEvent) -> Iterable[ChatChunk]:
        data = event.data.strip()
        if self.done or not data:
            return []
        if data == "[DONE]":
            self.done = True
            return []
        try:
            payload: Any = json.loads(data)
        except (ValueError, RecursionError):
            raise InvalidResponseError(f"stream event is not JSON: {data[:120]!r}",
                                       provider=self.provider, model=self.model) from None
        if not isinstance(payload, Mapping):
            raise InvalidResponseError("stream event is not a JSON object",
                                       provider=self.provider, model=self.model)
        if payload.get("object") == "error" or "error" in payload or "detail" in payload:
            self.done = True
            raise classify_error(None, payload, {}, self.provider, self.model, in_stream=True)
        return self._chunk(payload)

    def _chunk(self, payload: Mapping[str, Any]) -> list[ChatChunk]:
        if isinstance(payload.get("id"), str):
            self.response_id = payload["id"]
        if isinstance(payload.get("model"), str):
            self.response_model = payload["model"]
        text = ""
        deltas: list[ToolCallDelta] = []
        finish = None
        choices = payload.get("choices") or []
        if not isinstance(choices, list):
            raise InvalidResponseError("stream chunk 'choices' is not a list",
                                       provider=self.provider, model=self.model)
        for choice in choices:
            if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if isinstance(delta, Mapping):
                text += content_text(delta.get("content"), self.thinking)
                for position, call in enumerate(delta.get("tool_calls") or []):
                    if not isinstance(call, Mapping):
                        continue
                    fn = call.get("function")
                    fn = fn if isinstance(fn, Mapping) else {}
                    args = fn.get("arguments")
                    index = call.get("index")
                    deltas.append(ToolCallDelta(
                        index=index if isinstance(index, int) else position,
                        id=call.get("id") if isinstance(call.get("id"), str) else None,
                        name=fn.get("name") if isinstance(fn.get("name"), str) else None,
                        arguments=args if isinstance(args, str) else (
                            json.dumps(args) if isinstance(args, Mapping) else ""),
                    ))
            finish = finish_reason(choice.get("finish_reason")) or finish
        usage = usage_from(payload.get("usage"), provider=self.provider, model=self.model)
        if not (text or deltas or finish or usage):
            return []
        return [ChatChunk(text=text, tool_calls=deltas, finish_reason=finish, usage=usage,
                          response_id=self.response_id, response_model=self.response_model,
                          provider=self.provider, model=self.model)]

    @typed_parse
    def close(self) -> Iterable[ChatChunk]:
        if not self.done:
            raise StreamInterruptedError("stream ended before 'data: [DONE]'",
                                         provider=self.provider, model=self.model)
        return []
