"""Neutral ``ChatRequest`` → Mistral ``POST /v1/chat/completions`` body.

Reference: https://docs.mistral.ai/api/#tag/chat/operation/chat_completion_v1_chat_completions_post
and https://docs.mistral.ai/capabilities/function_calling/.

OpenAI-like, with Mistral's own differences:

- Tool-call ids must be exactly nine characters ``[a-zA-Z0-9]``. Ids that
  already are (every id Mistral itself returns) pass through; any other neutral
  id is mapped by ``mistral_call_id`` — a hash, so an assistant tool call and
  the tool result that answers it map to the same id in every request.
- ``seed`` → ``random_seed``; ``max_tokens`` keeps its name; ``top_k`` does
  not exist and is dropped (``MistralProvider.supported_params`` says so).
- ``tool_choice``: ``auto``/``none`` as given, ``required`` → ``any``, a
  named tool → ``{"type": "function", "function": {"name": ...}}``.
- ``safe_prompt`` (prepend Mistral's safety system prompt) comes from
  ``settings.extra["safe_prompt"]`` or ``params.extra``.
- ``response_format``: ``{"type": "json_object"}`` or ``{"type": "json_schema",
  "json_schema": {"name", "schema", "strict"}}``.
- Images are ``{"type": "image_url", "image_url": "<url or data URL>"}``.
- Tool results are ``role: tool`` messages with ``tool_call_id`` and ``name``.
- Streaming: ``stream: true``; usage arrives on the last chunk unasked.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from polyroute.errors import BadRequestError
from polyroute.providers.request_parts import (
    function_tool,
    image_url,
    put_present,
    split_tool_results,
    text_or_parts,
)
from polyroute.types import ChatRequest, ImagePart, Message, NamedToolChoice, TextPart, ToolCallPart

__all__ = ["build_body", "convert_messages", "mistral_call_id"]

_ID = re.compile(r"^[a-zA-Z0-9]{9}$")
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def mistral_call_id(neutral_id: str) -> str:
    """A Mistral-valid tool-call id (9 alphanumerics) for ``neutral_id``, deterministically."""
    if _ID.match(neutral_id):
        return neutral_id
    n = int.from_bytes(hashlib.sha256(neutral_id.encode()).digest()[:8], "big")
    out = []
    for _ in range(9):
        n, r = divmod(n, len(_ALPHABET))
        out.append(_ALPHABET[r])
    return "".join(out)


def build_body(
    request: ChatRequest, model: str, *, stream: bool, safe_prompt: bool | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": convert_messages(request.messages)}
    if request.tools:
        body["tools"] = [function_tool(t.name, t.description, t.parameters, t.strict)
                         for t in request.tools]
        if request.tool_choice is not None:
            body["tool_choice"] = _tool_choice(request.tool_choice)
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_object":
        body["response_format"] = {"type": "json_object"}
    elif fmt is not None and fmt.type == "json_schema":
        spec: dict[str, Any] = {"name": fmt.name or "response",
                                "schema": fmt.json_schema or {"type": "object"}}
        if fmt.strict is not None:
            spec["strict"] = fmt.strict
        body["response_format"] = {"type": "json_schema", "json_schema": spec}
    p = request.params
    put_present(body, (
        ("temperature", p.temperature),
        ("top_p", p.top_p),
        ("max_tokens", p.max_tokens),
        ("stop", list(p.stop) if p.stop else None),
        ("random_seed", p.seed),
        ("presence_penalty", p.presence_penalty),
        ("frequency_penalty", p.frequency_penalty),
    ))
    if safe_prompt is not None:
        body["safe_prompt"] = safe_prompt
    body.update(p.extra)  # verbatim: prediction, prompt_mode, n, safe_prompt, ...
    if stream:
        body["stream"] = True
    return body


def _tool_choice(choice: object) -> Any:
    if isinstance(choice, NamedToolChoice):
        return {"type": "function", "function": {"name": choice.name}}
    return {"auto": "auto", "none": "none", "required": "any"}[str(choice)]


def convert_messages(messages: list[Message]) -> list[dict[str, Any]]:
    names = {c.id: c.name for m in messages for c in m.tool_calls}
    out: list[dict[str, Any]] = []
    for index, m in enumerate(messages):
        results, rest = split_tool_results(m, index)
        for r in results:
            msg = {"role": "tool", "tool_call_id": mistral_call_id(r.tool_call_id),
                   "content": r.content}
            name = r.name or names.get(r.tool_call_id)
            if name:
                msg["name"] = name
            out.append(msg)
        if m.role == "tool" or (results and not rest):
            continue
        if m.role == "system":
            out.append({"role": "system", "content": m.text})
        elif m.role == "assistant":
            out.append(_assistant(m))
        else:
            out.append({"role": "user", "content": _user_content(m, index)})
    return out


def _assistant(m: Message) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": m.text}
    calls = m.tool_calls
    if calls:
        msg["tool_calls"] = [_call(c) for c in calls]
    return msg


def _call(c: ToolCallPart) -> dict[str, Any]:
    return {"id": mistral_call_id(c.id), "type": "function",
            "function": {"name": c.name,
                         "arguments": json.dumps(c.arguments, separators=(",", ":"),
                                                 ensure_ascii=False)}}


def _user_content(m: Message, index: int) -> str | list[dict[str, Any]]:
    if isinstance(m.content, str):
        return m.content
    parts: list[dict[str, Any]] = []
    for p in m.content:
        if isinstance(p, TextPart):
            parts.append({"type": "text", "text": p.text})
        elif isinstance(p, ImagePart):
            parts.append({"type": "image_url", "image_url": _image_url(p, index)})
        else:
            raise BadRequestError(f"messages[{index}]: a user message cannot hold "
                                  f"{type(p).__name__}")
    return text_or_parts(parts)


def _image_url(p: ImagePart, index: int) -> str:
    url = image_url(p)
    if url is None:
        raise BadRequestError(f"messages[{index}]: an image part needs a url or base64 data")
    return url
