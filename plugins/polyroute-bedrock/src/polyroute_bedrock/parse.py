"""Converse response body → neutral ``ChatResponse``.

Reference: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_Converse.html
(response: ``output.message.content`` blocks, ``stopReason``, ``usage``,
``metrics``, ``additionalModelResponseFields``, ``trace``) and
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_TokenUsage.html.

- ``text`` blocks join into the text; ``toolUse`` blocks become
  ``ToolCallPart``s, except the JSON-emulation tool, whose input becomes the
  JSON text. ``reasoningContent`` blocks go to ``provider_metadata["reasoning"]``.
- Usage: Bedrock's ``inputTokens`` excludes cache reads and writes; the neutral
  ``input_tokens`` is the whole prompt (``inputTokens`` + ``cacheReadInputTokens``
  + ``cacheWriteInputTokens``), the cache counts are also reported apart.
- Stop reasons: ``end_turn``/``stop_sequence`` → ``stop``; ``max_tokens`` and
  ``model_context_window_exceeded`` → ``length``; ``tool_use`` → ``tool_calls``;
  ``guardrail_intervened``/``content_filtered`` → ``content_filter`` (the body
  still holds the guardrail's replacement text); others → ``other``.
- The body has no id: ``response_id`` is the ``x-amzn-RequestId`` header.
"""

from __future__ import annotations

import json
from typing import Any

from polyroute.errors import InvalidResponseError
from polyroute.providers.bodies import finish_from, usage_with_cache
from polyroute.types import ChatResponse, FinishReason, Message, Part, TextPart, ToolCallPart, Usage
from polyroute_bedrock.request import is_json_tool

__all__ = ["finish_reason", "parse_converse", "usage_from"]

_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop", "stop_sequence": "stop", "tool_use": "tool_calls",
    "max_tokens": "length", "model_context_window_exceeded": "length",
    "guardrail_intervened": "content_filter", "content_filtered": "content_filter",
}
_JSON_FINISH: dict[str, FinishReason] = {**_FINISH, "tool_use": "stop"}  # JSON emulation: a stop


def finish_reason(stop_reason: object, *, json_tool: bool = False) -> FinishReason | None:
    return finish_from(_JSON_FINISH if json_tool else _FINISH, stop_reason)


def usage_from(usage: object, *, provider: str = "", model: str = "") -> Usage:
    """Converse ``usage``: ``inputTokens`` leaves out the cache (see ``usage_with_cache``)."""
    return usage_with_cache(
        usage, ("inputTokens", "outputTokens", "cacheReadInputTokens", "cacheWriteInputTokens"),
        provider=provider, model=model)


def parse_converse(
    data: Any, *, provider: str, model: str, request_id: str | None = None
) -> ChatResponse:
    def bad(why: str) -> InvalidResponseError:
        return InvalidResponseError(f"unexpected Converse body: {why}", provider=provider,
                                    model=model, request_id=request_id)

    if not isinstance(data, dict):
        raise bad("not a JSON object")
    output = data.get("output")
    message = output.get("message") if isinstance(output, dict) else None
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, list):
        raise bad("no output.message.content list")
    texts: list[str] = []
    calls: list[ToolCallPart] = []
    json_text: str | None = None
    reasoning: list[Any] = []
    other: list[Any] = []
    for i, block in enumerate(content):
        if not isinstance(block, dict):
            raise bad(f"content[{i}] is not an object")
        if "text" in block:
            if not isinstance(block["text"], str):
                raise bad(f"content[{i}].text is not a string")
            texts.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            if not isinstance(use, dict) or not isinstance(use.get("toolUseId"), str) or (
                    not isinstance(use.get("name"), str)):
                raise bad(f"content[{i}].toolUse lacks toolUseId or name")
            args = use.get("input", {})
            if not isinstance(args, dict):
                raise bad(f"content[{i}].toolUse.input is not an object")
            if is_json_tool(use["name"]):
                json_text = json.dumps(args)
            else:
                calls.append(ToolCallPart(id=use["toolUseId"], name=use["name"], arguments=args))
        elif "reasoningContent" in block:
            reasoning.append(block["reasoningContent"])
        else:
            other.append(block)
    metadata: dict[str, Any] = {}
    for key in ("metrics", "additionalModelResponseFields", "trace"):
        if data.get(key) is not None:
            metadata[key] = data[key]
    if reasoning:
        metadata["reasoning"] = reasoning
    if other:
        metadata["other_blocks"] = other
    if data.get("stopReason") is not None:
        metadata["stop_reason"] = data["stopReason"]
    if json_text is not None and texts:
        metadata["discarded_text"] = "".join(texts)
    text = json_text if json_text is not None else "".join(texts)
    parts: list[Part] = [TextPart(text=text)] if text else []
    parts.extend(calls)
    return ChatResponse(
        message=Message(role="assistant", content=parts if calls else text),
        finish_reason=finish_reason(data.get("stopReason"), json_tool=json_text is not None),
        usage=usage_from(data.get("usage"), provider=provider, model=model),
        provider=provider,
        model=model,
        response_model=model,
        response_id=request_id,
        provider_metadata=metadata,
    )
