"""Ollama responses and errors → neutral types.

References:
https://github.com/ollama/ollama/blob/main/docs/api.md#generate-a-chat-completion
(the final object: ``message``, ``done``, ``done_reason``, ``prompt_eval_count``,
``eval_count``, durations in nanoseconds) and https://docs.ollama.com/api/errors
(``{"error": "..."}`` bodies; 400, 404 model not found, 429, 500, 502; a
mid-stream error is one NDJSON line ``{"error": ...}`` after a 200).

- Ollama tool calls have no ids. ``tool_call_id`` makes a stable one from the
  call's position, name and arguments, so the same answer (streamed or not,
  replayed from a cache) always carries the same ids. An ``id`` the server
  does send (newer releases may) is kept.
- ``done_reason`` ``stop`` with tool calls is finish reason ``tool_calls``;
  ``length`` is ``length``; ``load``/``unload`` (an empty request) are ``other``.
  Servers older than ``done_reason`` say only ``done: true``: ``stop``.
- ``thinking`` never reaches the text: it is in ``provider_metadata["thinking"]``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from polyroute.errors import (
    ContextWindowError,
    InvalidResponseError,
    ProviderError,
    QuotaExceededError,
    StreamInterruptedError,
)
from polyroute.providers import errors_table
from polyroute.providers.bodies import usage_of
from polyroute.providers.classify import error_class_for_status, request_id_from_headers
from polyroute.types import ChatResponse, FinishReason, Message, Part, TextPart, ToolCallPart, Usage

__all__ = [
    "DURATION_KEYS",
    "error_from_body",
    "finish_reason",
    "parse_chat",
    "tool_call_id",
    "tool_calls_from",
    "usage_from",
]

DURATION_KEYS = ("total_duration", "load_duration", "prompt_eval_duration", "eval_duration")

# "input length exceeds the context length", "prompt is too long",
# "exceeds maximum context length": a prompt that cannot fit num_ctx.
_CONTEXT = re.compile(
    r"context (?:length|window|size)|prompt is too long|too many tokens|input (?:is )?too long",
    re.IGNORECASE,
)
_QUOTA = re.compile(r"usage limit|quota|upgrade", re.IGNORECASE)


def usage_from(data: Mapping[str, Any], *, provider: str = "", model: str = "") -> Usage:
    """``prompt_eval_count`` / ``eval_count`` as neutral usage (missing counts are 0);
    ``InvalidResponseError`` for a count that is negative, fractional, NaN or absurd."""
    return usage_of(provider=provider, model=model,
                    input_tokens=("prompt_eval_count", data.get("prompt_eval_count")),
                    output_tokens=("eval_count", data.get("eval_count")))


def finish_reason(done_reason: object, *, tool_calls: bool) -> FinishReason:
    if done_reason in (None, "stop"):
        return "tool_calls" if tool_calls else "stop"
    if done_reason == "length":
        return "length"
    return "other"


def tool_call_id(index: int, name: str, arguments: object) -> str:
    """A stable id for the ``index``-th call of one answer (Ollama sends none)."""
    blob = json.dumps([name, arguments], sort_keys=True, separators=(",", ":"), default=str)
    return f"call_{index}_{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def tool_calls_from(
    message: Mapping[str, Any], *, start: int = 0, provider: str = "", model: str = ""
) -> list[ToolCallPart]:
    """The message's ``tool_calls`` as parts; ``start`` numbers them within one answer."""
    raw = message.get("tool_calls")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidResponseError("message.tool_calls is not a list",
                                   provider=provider, model=model)
    calls: list[ToolCallPart] = []
    for offset, item in enumerate(raw):
        fn = item.get("function") if isinstance(item, dict) else None
        name = fn.get("name") if isinstance(fn, dict) else None
        if not isinstance(fn, dict) or not isinstance(name, str):
            raise InvalidResponseError(f"tool_calls[{offset}] has no function name",
                                       provider=provider, model=model)
        args: Any = fn.get("arguments", {})
        if isinstance(args, str):  # tolerate servers that send a JSON string
            try:
                args = json.loads(args) if args.strip() else {}
            except (ValueError, RecursionError):
                args = {"_raw": args}
        if not isinstance(args, dict):
            raise InvalidResponseError(f"tool_calls[{offset}].function.arguments is not an "
                                       "object", provider=provider, model=model)
        given = item.get("id")
        call_id = given if isinstance(given, str) and given else tool_call_id(
            start + offset, name, args)
        calls.append(ToolCallPart(id=call_id, name=name, arguments=args))
    return calls


def parse_chat(data: Any, *, provider: str, model: str) -> ChatResponse:
    """A non-streamed ``/api/chat`` body as a ``ChatResponse``."""
    if not isinstance(data, dict):
        raise InvalidResponseError("unexpected /api/chat body: not a JSON object",
                                   provider=provider, model=model)
    message = data.get("message")
    if not isinstance(message, dict):
        raise InvalidResponseError("unexpected /api/chat body: no 'message' object",
                                   provider=provider, model=model)
    content = message.get("content") or ""
    if not isinstance(content, str):
        raise InvalidResponseError("message.content is not a string",
                                   provider=provider, model=model)
    calls = tool_calls_from(message, provider=provider, model=model)
    parts: list[Part] = []
    if content:
        parts.append(TextPart(text=content))
    parts.extend(calls)
    metadata: dict[str, Any] = {k: data[k] for k in DURATION_KEYS if isinstance(data.get(k), int)}
    thinking = message.get("thinking")
    if isinstance(thinking, str) and thinking:
        metadata["thinking"] = thinking
    if isinstance(data.get("created_at"), str):
        metadata["created_at"] = data["created_at"]
    if data.get("done_reason") is not None:
        metadata["done_reason"] = data["done_reason"]
    rmodel = data.get("model")
    return ChatResponse(
        message=Message(role="assistant", content=parts if calls else content),
        finish_reason=finish_reason(data.get("done_reason"), tool_calls=bool(calls)),
        usage=usage_from(data, provider=provider, model=model),
        provider=provider,
        model=model,
        response_model=rmodel if isinstance(rmodel, str) else None,
        provider_metadata=metadata,
    )


def classify(message: str, status: int | None) -> type[ProviderError]:
    """The error class for an Ollama error ``message`` with HTTP ``status``.

    ``status`` is ``None`` for an in-band stream error: it is a
    ``StreamInterruptedError`` unless its message says the prompt overflowed.
    """
    if _CONTEXT.search(message):
        return ContextWindowError
    if status is None:
        return StreamInterruptedError
    if status == 429 and _QUOTA.search(message):
        return QuotaExceededError  # ollama.com cloud models: a plan limit, not a burst
    # 404 model not found (or not pulled) → NotFoundError; 401 (ollama.com) →
    # AuthenticationError; 502 (a cloud model unreachable) → ServerError; 503
    # (server busy: OLLAMA_MAX_QUEUE reached) → OverloadedError.
    return error_class_for_status(status)


def error_from_body(
    body: bytes, *, status: int | None, headers: Mapping[str, str], provider: str, model: str,
) -> ProviderError:
    """Classify an error response (or an in-band ``{"error": ...}`` line)."""
    data = errors_table.error_json(body)
    message = data["error"] if isinstance(data, dict) and isinstance(data.get("error"), str) else (
        errors_table.fallback_message(body, status))
    cls = classify(message, status)
    return errors_table.provider_error(
        cls, message, provider=provider, model=model, status=status,
        retry_after=errors_table.retry_after_for(cls, headers, status),
        request_id=request_id_from_headers(headers),
    )
