"""Mistral chat completion bodies → ``ChatResponse``.

Reference: https://docs.mistral.ai/api/#tag/chat/operation/chat_completion_v1_chat_completions_post
(response: ``id``, ``model``, ``choices[].message`` with ``content`` and
``tool_calls``, ``finish_reason``, ``usage``).

- ``content`` is a string, or (reasoning models such as Magistral) a list of
  chunks: ``text`` chunks join into the text, ``thinking`` chunks are kept in
  ``provider_metadata["thinking"]``.
- ``finish_reason``: ``stop``, ``length``, ``model_length`` (the context
  window is full: ``length``), ``tool_calls``, ``error``.
- Tool-call ``arguments`` is a JSON string (a few models send an object).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from polyroute.errors import InvalidResponseError
from polyroute.providers.bodies import usage_of
from polyroute.types import (
    ChatResponse,
    FinishReason,
    Message,
    Part,
    TextPart,
    ToolCallPart,
    Usage,
)

__all__ = ["content_text", "finish_reason", "parse_arguments", "parse_completion", "usage_from"]

_FINISH: dict[str, FinishReason] = {
    "stop": "stop", "length": "length", "model_length": "length",
    "tool_calls": "tool_calls", "error": "error",
}


def finish_reason(value: object) -> FinishReason | None:
    return None if value is None else _FINISH.get(str(value), "other")


def usage_from(data: object, *, provider: str = "", model: str = "") -> Usage | None:
    """``usage``; ``InvalidResponseError`` for a count that is negative, fractional,
    NaN or absurd."""
    if not isinstance(data, Mapping):
        return None
    details = data.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, Mapping) else None
    return usage_of(
        provider=provider, model=model,
        input_tokens=("prompt_tokens", data.get("prompt_tokens")),
        output_tokens=("completion_tokens", data.get("completion_tokens")),
        cache_read_tokens=("prompt_tokens_details.cached_tokens", cached),
    )


def content_text(content: object, thinking: list[str] | None = None) -> str:
    """Text of a ``content`` string or chunk list; thinking chunks go to ``thinking``."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    out: list[str] = []
    for chunk in content:
        if not isinstance(chunk, Mapping):
            continue
        if chunk.get("type") == "text" and isinstance(chunk.get("text"), str):
            out.append(chunk["text"])
        elif chunk.get("type") == "thinking" and thinking is not None:
            thinking.append(content_text(chunk.get("thinking")))
    return "".join(out)


def parse_arguments(raw: Any, *, provider: str, model: str, name: str) -> dict[str, Any]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        value = json.loads(raw)
    except (TypeError, ValueError, RecursionError):
        raise InvalidResponseError(f"tool call '{name}' has arguments that are not JSON",
                                   provider=provider, model=model) from None
    if not isinstance(value, dict):
        raise InvalidResponseError(f"tool call '{name}' arguments are not a JSON object",
                                   provider=provider, model=model)
    return value


def parse_completion(data: Any, *, provider: str, model: str) -> ChatResponse:
    def bad(why: str) -> InvalidResponseError:
        return InvalidResponseError(f"unexpected chat completion body: {why}",
                                    provider=provider, model=model)

    if not isinstance(data, Mapping):
        raise bad("not a JSON object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], Mapping):
        raise bad("no choices")
    msg = choices[0].get("message")
    if not isinstance(msg, Mapping):
        raise bad("choice has no message")
    thinking: list[str] = []
    text = content_text(msg.get("content"), thinking)
    calls: list[ToolCallPart] = []
    raw_calls = msg.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        raise bad("tool_calls is not a list")
    for call in raw_calls:
        fn = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str):
            raise bad("tool call without a function name")
        calls.append(ToolCallPart(
            id=str(call.get("id") or ""), name=fn["name"],
            arguments=parse_arguments(fn.get("arguments"), provider=provider, model=model,
                                      name=fn["name"])))
    parts: list[Part] = [TextPart(text=text)] if text else []
    parts.extend(calls)
    meta: dict[str, Any] = {}
    if thinking:
        meta["thinking"] = thinking
    if isinstance(data.get("created"), int):
        meta["created"] = data["created"]
    rmodel, rid = data.get("model"), data.get("id")
    return ChatResponse(
        message=Message(role="assistant", content=text if not calls else parts),
        finish_reason=finish_reason(choices[0].get("finish_reason")),
        usage=usage_from(data.get("usage"), provider=provider, model=model) or Usage(),
        provider=provider, model=model,
        response_model=rmodel if isinstance(rmodel, str) else None,
        response_id=rid if isinstance(rid, str) else None,
        provider_metadata=meta,
    )
