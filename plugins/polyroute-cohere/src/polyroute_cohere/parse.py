"""Cohere Chat v2 response → ``ChatResponse``.

Reference: https://docs.cohere.com/reference/chat (response: ``id``,
``finish_reason``, ``message`` with ``content`` items, ``tool_plan``,
``tool_calls``, ``citations``; ``usage`` with ``billed_units`` and ``tokens``).

- ``text`` content items join into the text; ``thinking`` items (reasoning
  models) go to ``provider_metadata["thinking"]``; the ``tool_plan`` (the
  model's plan before calling tools) to ``provider_metadata["tool_plan"]``.
- ``finish_reason``: ``COMPLETE``/``STOP_SEQUENCE`` → ``stop``, ``MAX_TOKENS``
  → ``length``, ``TOOL_CALL`` → ``tool_calls``, ``ERROR``/``TIMEOUT`` → ``error``.
- Usage is the *billed* units (what Cohere charges, so costs add up), falling
  back to ``tokens``; both objects are kept in ``provider_metadata["usage"]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polyroute.errors import InvalidResponseError
from polyroute.providers.bodies import usage_of
from polyroute.providers.openai_compat import tool_arguments as parse_arguments
from polyroute.types import ChatResponse, FinishReason, Message, Part, TextPart, ToolCallPart, Usage

__all__ = ["finish_reason", "parse_arguments", "parse_chat", "usage_from"]

_FINISH: dict[str, FinishReason] = {
    "COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls", "ERROR": "error", "TIMEOUT": "error",
}


def finish_reason(value: object) -> FinishReason | None:
    return None if value is None else _FINISH.get(str(value), "other")


def usage_from(usage: object, *, provider: str = "", model: str = "") -> Usage | None:
    """``billed_units`` (else ``tokens``), and ``cached_tokens`` (prompt tokens that hit
    the inference cache; declared by the cohere SDK's ``Usage``, which the conformance
    suite found unread); ``InvalidResponseError`` for a count that is negative,
    fractional, NaN or absurd."""
    if not isinstance(usage, Mapping):
        return None
    for key in ("billed_units", "tokens"):
        part = usage.get(key)
        if isinstance(part, Mapping) and ("input_tokens" in part or "output_tokens" in part):
            return usage_of(
                provider=provider, model=model,
                input_tokens=(f"usage.{key}.input_tokens", part.get("input_tokens")),
                output_tokens=(f"usage.{key}.output_tokens", part.get("output_tokens")),
                cache_read_tokens=("usage.cached_tokens", usage.get("cached_tokens")),
            )
    return None


def parse_chat(data: Any, *, provider: str, model: str) -> ChatResponse:
    def bad(why: str) -> InvalidResponseError:
        return InvalidResponseError(f"unexpected /v2/chat body: {why}", provider=provider,
                                    model=model)

    if not isinstance(data, Mapping):
        raise bad("not a JSON object")
    msg = data.get("message")
    if not isinstance(msg, Mapping):
        raise bad("no message")
    texts: list[str] = []
    thinking: list[str] = []
    content = msg.get("content") or []
    if isinstance(content, str):
        texts.append(content)
    elif isinstance(content, list):
        for item in content:
            if not isinstance(item, Mapping):
                continue
            if item.get("type") == "text" and isinstance(item.get("text"), str):
                texts.append(item["text"])
            elif item.get("type") == "thinking" and isinstance(item.get("thinking"), str):
                thinking.append(item["thinking"])
    else:
        raise bad("message content is neither a list nor text")
    calls: list[ToolCallPart] = []
    for call in msg.get("tool_calls") or []:
        fn = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str):
            raise bad("tool call without a function name")
        calls.append(ToolCallPart(id=str(call.get("id") or ""), name=fn["name"],
                                  arguments=parse_arguments(fn.get("arguments"),
                                                            provider=provider, model=model,
                                                            name=fn["name"])))
    text = "".join(texts)
    parts: list[Part] = [TextPart(text=text)] if text else []
    parts.extend(calls)
    meta: dict[str, Any] = {}
    if thinking:
        meta["thinking"] = thinking
    for key in ("tool_plan", "citations"):
        if msg.get(key):
            meta[key] = msg[key]
    if isinstance(data.get("usage"), Mapping):
        meta["usage"] = data["usage"]
    rid = data.get("id")
    return ChatResponse(
        message=Message(role="assistant", content=text if not calls else parts),
        finish_reason=finish_reason(data.get("finish_reason")),
        usage=usage_from(data.get("usage"), provider=provider, model=model) or Usage(),
        provider=provider, model=model, response_model=None,
        response_id=rid if isinstance(rid, str) else None,
        provider_metadata=meta,
    )
