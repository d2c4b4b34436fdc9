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

from collections.abc import Mapping
from typing import Any

from polyroute.errors import InvalidResponseError
from polyroute.providers.bodies import finish_from
from polyroute.providers.openai_compat import (
    chat_usage,
    first_choice,
    tool_arguments,
    tool_call_parts,
)
from polyroute.types import ChatResponse, FinishReason, Message, Part, TextPart, Usage

__all__ = [
    "FINISH_REASONS", "content_text", "finish_reason", "parse_arguments", "parse_completion",
    "usage_from",
]

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop", "length": "length", "model_length": "length",
    "tool_calls": "tool_calls", "error": "error",
}


def finish_reason(value: object) -> FinishReason | None:
    return finish_from(FINISH_REASONS, value)


def usage_from(data: object, *, provider: str = "", model: str = "") -> Usage | None:
    """``usage``; ``InvalidResponseError`` for a count that is negative, fractional,
    NaN or absurd."""
    return chat_usage(data, provider=provider, model=model)


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


parse_arguments = tool_arguments


def parse_completion(data: Any, *, provider: str, model: str) -> ChatResponse:
    def bad(why: str) -> InvalidResponseError:
        return InvalidResponseError(f"unexpected chat completion body: {why}",
                                    provider=provider, model=model)

    choice, msg = first_choice(data, bad)
    thinking: list[str] = []
    text = content_text(msg.get("content"), thinking)
    calls = tool_call_parts(msg.get("tool_calls"), provider=provider, model=model, bad=bad)
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
        finish_reason=finish_reason(choice.get("finish_reason")),
        usage=usage_from(data.get("usage"), provider=provider, model=model) or Usage(),
        provider=provider, model=model,
        response_model=rmodel if isinstance(rmodel, str) else None,
        response_id=rid if isinstance(rid, str) else None,
        provider_metadata=meta,
    )
