"""Messages API server-sent events → ``ChatChunk``s.

Reference: https://docs.claude.com/en/docs/build-with-claude/streaming — a
stream is ``message_start``, then per content block ``content_block_start``,
``content_block_delta``\\* and ``content_block_stop``, then ``message_delta``
(``stop_reason``, cumulative ``usage.output_tokens``) and ``message_stop``;
``ping`` events may come anywhere, and an ``error`` event may arrive in-band
after the 200. Unknown event types are ignored, as the versioning policy asks.

Chunks: one at ``message_start`` (id and model), one per text or tool-input
delta (``ToolCallDelta.index`` is the content block index; the block start
carries id and name), and a final one at ``message_stop`` with the finish
reason and usage. ``thinking``/``signature`` deltas never reach the text; they
accumulate in ``parser.thinking``. The JSON-emulation tool's input streams as
text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from polyroute.providers.base import StreamEvent
from polyroute.providers.bodies import token_count, typed_parse
from polyroute.providers.streams import JsonEventParser
from polyroute.types import ChatChunk, ToolCallDelta, Usage
from polyroute_anthropic.errors import error_from_body
from polyroute_anthropic.parse import COUNT_KEYS, finish_reason
from polyroute_anthropic.request import is_json_tool
from polyroute_anthropic.thinking import encode as encode_thinking

__all__ = ["AnthropicStreamParser"]

_Handler = Callable[["AnthropicStreamParser", dict[str, Any]], list[ChatChunk]]


class AnthropicStreamParser(JsonEventParser):
    """Stateful decoder of one Messages API stream."""

    label: ClassVar[str] = "Anthropic stream"

    def __init__(self, *, provider: str, model: str) -> None:
        super().__init__(provider=provider, model=model)
        self.stop_reason: str | None = None
        self.thinking: list[dict[str, str]] = []
        self._thinking_used = 0  # thinking blocks already attached to a tool call
        self._usage: dict[str, int] = {}
        self._json_blocks: set[int] = set()
        self._thinking_blocks: dict[int, dict[str, str]] = {}
        self._started = False

    # --- contract ------------------------------------------------------------

    @typed_parse
    def feed(self, event: StreamEvent) -> Iterable[ChatChunk]:
        if self.done or not event.data.strip():
            return []
        data = self.load_object(event.data)
        kind = data.get("type", event.event)
        handler = self._handlers.get(kind) if isinstance(kind, str) else None
        if handler is None:  # ping, and event types added after this was written
            return []
        return handler(self, data)

    @typed_parse
    def close(self) -> Iterable[ChatChunk]:
        if not self.done:
            why = "stream ended without message_stop" if self._started else (
                "stream ended before message_start"
            )
            raise self.broken(why)
        return []

    # --- events --------------------------------------------------------------

    def _on_message_start(self, data: dict[str, Any]) -> list[ChatChunk]:
        message = data.get("message")
        if not isinstance(message, dict):
            raise self.broken("message_start without a message object")
        self._started = True
        rid, rmodel = message.get("id"), message.get("model")
        self.response_id = rid if isinstance(rid, str) else None
        self.response_model = rmodel if isinstance(rmodel, str) else None
        self._merge_usage(message.get("usage"))
        return [self.chunk()]

    def _on_content_block_start(self, data: dict[str, Any]) -> list[ChatChunk]:
        index, block = self._index(data), data.get("content_block")
        if not isinstance(block, dict):
            raise self.broken("content_block_start without a content_block")
        kind = block.get("type")
        if kind == "text":
            text = block.get("text")
            return [self.chunk(text=text)] if isinstance(text, str) and text else []
        if kind == "tool_use":
            call_id, name = block.get("id"), block.get("name")
            if not isinstance(call_id, str) or not isinstance(name, str):
                raise self.broken("tool_use block without id or name")
            if is_json_tool(name):
                self._json_blocks.add(index)
                return []
            # The thinking blocks since the last tool_use are complete by now (a block
            # starts only after the previous one stopped): they ride on this call.
            signature = encode_thinking(self.thinking[self._thinking_used:])
            self._thinking_used = len(self.thinking)
            delta = ToolCallDelta(index=index, id=call_id, name=name, signature=signature)
            return [self.chunk(tool_calls=[delta])]
        if kind in ("thinking", "redacted_thinking"):
            entry = {"type": str(kind)}
            for key in ("thinking", "signature", "data"):
                if isinstance(block.get(key), str):
                    entry[key] = block[key]
            self._thinking_blocks[index] = entry
            self.thinking.append(entry)
        return []

    def _on_content_block_delta(self, data: dict[str, Any]) -> list[ChatChunk]:
        index, delta = self._index(data), data.get("delta")
        if not isinstance(delta, dict):
            raise self.broken("content_block_delta without a delta")
        kind = delta.get("type")
        if kind == "text_delta":
            text = delta.get("text")
            if not isinstance(text, str):
                raise self.broken("text_delta without text")
            return [self.chunk(text=text)] if text else []
        if kind == "input_json_delta":
            partial = delta.get("partial_json")
            if not isinstance(partial, str):
                raise self.broken("input_json_delta without partial_json")
            if not partial:
                return []
            if index in self._json_blocks:
                return [self.chunk(text=partial)]
            return [self.chunk(tool_calls=[ToolCallDelta(index=index, arguments=partial)])]
        if kind in ("thinking_delta", "signature_delta"):
            key = "thinking" if kind == "thinking_delta" else "signature"
            entry = self._thinking_blocks.get(index)
            if entry is None:
                entry = self._thinking_blocks[index] = {"type": "thinking"}
                self.thinking.append(entry)
            entry[key] = entry.get(key, "") + str(delta.get(key) or "")
        return []  # citations_delta and future delta types carry no text

    def _on_content_block_stop(self, data: dict[str, Any]) -> list[ChatChunk]:
        return []

    def _on_message_delta(self, data: dict[str, Any]) -> list[ChatChunk]:
        delta = data.get("delta")
        if isinstance(delta, dict) and isinstance(delta.get("stop_reason"), str):
            self.stop_reason = delta["stop_reason"]
        self._merge_usage(data.get("usage"))
        return []

    def _on_message_stop(self, data: dict[str, Any]) -> list[ChatChunk]:
        if not self._started:
            raise self.broken("message_stop before message_start")
        self.done = True
        reason = finish_reason(self.stop_reason, json_tool=bool(self._json_blocks))
        return [self.chunk(finish_reason=reason, usage=self.usage)]

    def _on_error(self, data: dict[str, Any]) -> list[ChatChunk]:
        self.done = True
        raise error_from_body(
            json.dumps(data).encode(),
            status=None,
            headers={},
            provider=self.provider,
            model=self.model,
        )

    _handlers: ClassVar[dict[str, _Handler]] = {
        "message_start": _on_message_start,
        "content_block_start": _on_content_block_start,
        "content_block_delta": _on_content_block_delta,
        "content_block_stop": _on_content_block_stop,
        "message_delta": _on_message_delta,
        "message_stop": _on_message_stop,
        "error": _on_error,
    }

    # --- helpers -------------------------------------------------------------

    @property
    def usage(self) -> Usage:
        u = self._usage
        write = u.get("cache_creation_input_tokens", 0)
        read = u.get("cache_read_input_tokens", 0)
        return Usage(
            input_tokens=u.get("input_tokens", 0) + write + read,
            output_tokens=u.get("output_tokens", 0),
            cache_read_tokens=read,
            cache_write_tokens=write,
        )

    def _merge_usage(self, usage: object) -> None:
        # message_delta's counts are cumulative: a later value replaces an earlier one.
        if not isinstance(usage, dict):
            return
        for key in COUNT_KEYS:
            if usage.get(key) is not None:
                self._usage[key] = token_count(
                    usage[key], field=f"usage.{key}", provider=self.provider, model=self.model
                )

    def _index(self, data: dict[str, Any]) -> int:
        index = data.get("index")
        if not isinstance(index, int) or isinstance(index, bool):
            raise self.broken(f"{data.get('type')} without an integer index")
        return index
