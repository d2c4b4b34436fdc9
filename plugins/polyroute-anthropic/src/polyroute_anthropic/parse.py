"""Messages API response body → neutral ``ChatResponse``.

Reference: https://docs.claude.com/en/api/messages (response: ``id``,
``model``, ``content`` blocks, ``stop_reason``, ``usage``).

- ``text`` blocks join into the message text; ``tool_use`` blocks become
  ``ToolCallPart``s. The JSON-emulation tool (see ``request``) becomes JSON text.
- ``thinking`` / ``redacted_thinking`` blocks never reach the text. The ones
  before a ``tool_use`` ride on its ``ToolCallPart.signature`` (see
  ``thinking.py``), so a tool step sends them back; all are also
  kept in ``provider_metadata["thinking"]`` (with their signatures, so a
  caller can send them back). Other block types (server tools, ...) go to
  ``provider_metadata["other_blocks"]``.
- Usage: the neutral ``input_tokens`` is the whole prompt, i.e. Anthropic's
  ``input_tokens`` (uncached part) + ``cache_creation_input_tokens`` +
  ``cache_read_input_tokens``; the two cache counts are also reported apart.
"""

from __future__ import annotations

import json
from typing import Any

from polyroute.errors import InvalidResponseError
from polyroute.providers.bodies import finish_from, usage_with_cache
from polyroute.types import ChatResponse, FinishReason, Message, Part, TextPart, ToolCallPart, Usage
from polyroute_anthropic.request import is_json_tool
from polyroute_anthropic.thinking import encode as encode_thinking

__all__ = ["finish_reason", "parse_message", "usage_from"]

_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop", "stop_sequence": "stop", "pause_turn": "other",
    "max_tokens": "length", "model_context_window_exceeded": "length",
    "tool_use": "tool_calls", "refusal": "content_filter",
}
_JSON_FINISH: dict[str, FinishReason] = {**_FINISH, "tool_use": "stop"}  # JSON emulation: a stop


def finish_reason(stop_reason: object, *, json_tool: bool = False) -> FinishReason | None:
    """The neutral finish reason; a forced JSON-tool answer is a normal ``stop``."""
    return finish_from(_JSON_FINISH if json_tool else _FINISH, stop_reason)


COUNT_KEYS = (
    "input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens",
)


def usage_from(usage: object, *, provider: str = "", model: str = "") -> Usage:
    """Neutral usage from an Anthropic ``usage`` object: its ``input_tokens`` is the
    uncached part of the prompt (see ``usage_with_cache``)."""
    inp, out, write, read = COUNT_KEYS
    return usage_with_cache(usage, (inp, out, read, write), provider=provider, model=model)


def parse_message(data: Any, *, provider: str, model: str) -> ChatResponse:
    """A ``{"type": "message", ...}`` body as a ``ChatResponse``."""

    def bad(why: str) -> InvalidResponseError:
        return InvalidResponseError(
            f"unexpected Messages API body: {why}", provider=provider, model=model
        )

    if not isinstance(data, dict):
        raise bad("not a JSON object")
    if data.get("type", "message") != "message":
        raise bad(f"type is {data.get('type')!r}, expected 'message'")
    content = data.get("content")
    if not isinstance(content, list):
        raise bad("'content' is missing or not a list")

    texts: list[str] = []
    calls: list[ToolCallPart] = []
    json_text: str | None = None
    thinking: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []  # thinking since the last tool_use
    other: list[dict[str, Any]] = []
    for i, block in enumerate(content):
        if not isinstance(block, dict):
            raise bad(f"content[{i}] is not an object")
        kind = block.get("type")
        if kind == "text":
            text = block.get("text")
            if not isinstance(text, str):
                raise bad(f"content[{i}].text is not a string")
            texts.append(text)
        elif kind == "tool_use":
            call_id, name, args = block.get("id"), block.get("name"), block.get("input")
            if not isinstance(call_id, str) or not isinstance(name, str):
                raise bad(f"content[{i}] tool_use lacks id or name")
            if not isinstance(args, dict):
                raise bad(f"content[{i}].input is not an object")
            if is_json_tool(name):
                json_text = json.dumps(args)
            else:
                calls.append(ToolCallPart(id=call_id, name=name, arguments=args,
                                          signature=encode_thinking(pending)))
                pending = []
        elif kind in ("thinking", "redacted_thinking"):
            thinking.append(block)
            pending.append(block)
        else:
            other.append(block)

    metadata: dict[str, Any] = {}
    if thinking:
        metadata["thinking"] = thinking
    if other:
        metadata["other_blocks"] = other
    if data.get("stop_sequence"):
        metadata["stop_sequence"] = data["stop_sequence"]
    if json_text is not None and texts:
        metadata["discarded_text"] = "".join(texts)  # JSON mode: the answer is the JSON only
    text = json_text if json_text is not None else "".join(texts)
    parts: list[Part] = []
    if text:
        parts.append(TextPart(text=text))
    parts.extend(calls)
    message = Message(role="assistant", content=text if not calls else parts)

    response_id = data.get("id")
    response_model = data.get("model")
    return ChatResponse(
        message=message,
        finish_reason=finish_reason(data.get("stop_reason"), json_tool=json_text is not None),
        usage=usage_from(data.get("usage"), provider=provider, model=model),
        provider=provider,
        model=model,
        response_model=response_model if isinstance(response_model, str) else None,
        response_id=response_id if isinstance(response_id, str) else None,
        provider_metadata=metadata,
    )
