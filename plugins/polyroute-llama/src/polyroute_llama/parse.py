"""Llama API bodies → ``ChatResponse``; error bodies → classified ``ProviderError``s.

Reference: https://llama.developer.meta.com/docs/api/chat and the response types of
``llama-api-client`` 0.6.0 (``CreateChatCompletionResponse``, ``CompletionMessage``):

    {"id": "...",
     "completion_message": {"role": "assistant", "stop_reason": "stop" | "tool_calls" | "length",
                            "content": "..." | {"type": "text", "text": "..."},
                            "tool_calls": [{"id", "function": {"name", "arguments"}}]},
     "metrics": [{"metric": "num_prompt_tokens", "value": 12, "unit": "tokens"},
                 {"metric": "num_completion_tokens", ...}, {"metric": "num_total_tokens", ...}]}

Token counts come as ``metrics`` entries, not a ``usage`` object. The API reference
publishes no error body schema: the parser reads the shapes a JSON API answers with
(``{"detail": ...}``, ``{"message": ...}``, ``{"error": {"message": ...}}``,
``{"title", "detail"}``) and classifies by HTTP status.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from polyroute.errors import InvalidResponseError, ProviderError, StreamInterruptedError
from polyroute.providers.bodies import finish_from, usage_of
from polyroute.providers.classify import (
    error_class_for_status,
    parse_retry_after,
    request_id_from_headers,
)
from polyroute.providers.openai_compat import tool_call_parts
from polyroute.secrets import redact
from polyroute.types import ChatResponse, FinishReason, Message, Part, TextPart, Usage

__all__ = ["FINISH_REASONS", "classify_error", "content_text", "parse_completion",
           "usage_from_metrics"]

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop", "tool_calls": "tool_calls", "length": "length",
}
_METRICS = {"num_prompt_tokens": "input_tokens", "num_completion_tokens": "output_tokens"}


def content_text(content: object) -> str:
    """``content``: a string or one ``{"type": "text", "text"}`` item."""
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping) and content.get("type") == "text" and isinstance(
            content.get("text"), str):
        return str(content["text"])
    return ""


def usage_from_metrics(metrics: object, *, provider: str, model: str) -> Usage | None:
    """``usage`` from a ``metrics`` list; ``InvalidResponseError`` for a count that is
    negative, fractional, NaN or absurd; ``None`` when no count is there."""
    if not isinstance(metrics, list):
        return None
    found: dict[str, tuple[str, Any]] = {}
    for item in metrics:
        if isinstance(item, Mapping) and isinstance(item.get("metric"), str) and (
                item["metric"] in _METRICS):
            name = str(item["metric"])
            found[_METRICS[name]] = (f"metrics[{name}].value", item.get("value"))
    if not found:
        return None
    return usage_of(provider=provider, model=model, **found)


def parse_completion(data: Any, *, provider: str, model: str) -> ChatResponse:
    def bad(why: str) -> InvalidResponseError:
        return InvalidResponseError(f"unexpected Llama API chat body: {why}",
                                    provider=provider, model=model)

    if not isinstance(data, Mapping):
        raise bad("not a JSON object")
    msg = data.get("completion_message")
    if not isinstance(msg, Mapping):
        raise bad("no completion_message")
    text = content_text(msg.get("content"))
    calls = tool_call_parts(msg.get("tool_calls"), provider=provider, model=model, bad=bad)
    parts: list[Part] = [TextPart(text=text)] if text else []
    parts.extend(calls)
    rid = data.get("id")
    return ChatResponse(
        message=Message(role="assistant", content=text if not calls else parts),
        finish_reason=finish_from(FINISH_REASONS, msg.get("stop_reason")),
        usage=usage_from_metrics(data.get("metrics"), provider=provider, model=model)
        or Usage(),
        provider=provider, model=model,
        response_id=rid if isinstance(rid, str) else None,
    )


def _message(body: Any) -> str:
    if not isinstance(body, Mapping):
        return ""
    err = body.get("error")
    if isinstance(err, Mapping):
        body = err
    elif isinstance(err, str):
        return err
    for key in ("detail", "message", "title"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def classify_error(status: int | None, body: Any, headers: Mapping[str, str], provider: str,
                   model: str, *, in_stream: bool = False) -> ProviderError:
    message = _message(body) or (f"HTTP {status}" if status is not None
                                 else "error event without a message")
    cls: type[ProviderError]
    if status is None:
        cls = StreamInterruptedError if in_stream else InvalidResponseError
    else:
        cls = error_class_for_status(status)
    wait = parse_retry_after(headers) if status is not None and (
        status == 429 or status >= 500) else None
    return cls(("in-band stream error: " if in_stream else "") + redact(message),
               provider=provider, model=model, status=status, retry_after=wait,
               request_id=request_id_from_headers(headers))
