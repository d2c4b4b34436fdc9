"""Neutral ``ChatRequest`` → a Llama API ``POST /v1/chat/completions`` body. No IO.

Reference: https://llama.developer.meta.com/docs/api/chat and the request types of the
official ``llama-api-client`` (0.6.0, ``types/chat/completion_create_params.py``), which
the conformance suite checks every body against. What differs from OpenAI:

- the output cap is ``max_completion_tokens``; ``top_k`` and ``repetition_penalty``
  (``params.extra``) exist, ``stop``, ``seed``, ``frequency_penalty`` and
  ``presence_penalty`` do not (``LlamaProvider.supported_params`` leaves them out, so the
  router's parameter policy handles them);
- an assistant turn's ``tool_calls`` items are ``{"id", "function": {"name",
  "arguments"}}`` (no ``type``), and its ``content`` is left out when empty;
- ``response_format`` is ``json_schema`` (``name`` and ``schema`` required) or ``text``:
  there is no ``json_object``, so JSON mode is sent as a schema of any object;
- no ``stream_options``: a stream ends with a ``metrics`` event carrying the counts.
"""

from __future__ import annotations

import json
from typing import Any

from polyroute.errors import BadRequestError
from polyroute.providers.request_parts import image_url, put_present, text_or_parts
from polyroute.types import (
    ChatRequest,
    ImagePart,
    Message,
    NamedToolChoice,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)

__all__ = ["build_body"]


def build_body(request: ChatRequest, model: str, *, stream: bool,
               provider: str = "llama") -> dict[str, Any]:
    body: dict[str, Any] = {"model": model,
                            "messages": _messages(request.messages, provider)}
    if request.tools:
        body["tools"] = [_tool(t.name, t.description, t.parameters, t.strict)
                         for t in request.tools]
    choice = request.tool_choice
    if isinstance(choice, NamedToolChoice):
        body["tool_choice"] = {"type": "function", "function": {"name": choice.name}}
    elif choice is not None:
        body["tool_choice"] = choice
    fmt = request.response_format
    if fmt is not None and fmt.type in ("json_schema", "json_object"):
        schema = fmt.json_schema if fmt.type == "json_schema" and fmt.json_schema else {
            "type": "object"}
        body["response_format"] = {"type": "json_schema",
                                   "json_schema": {"name": fmt.name or "response",
                                                   "schema": schema}}
    p = request.params
    put_present(body, (
        ("temperature", p.temperature),
        ("top_p", p.top_p),
        ("top_k", p.top_k),
        ("max_completion_tokens", p.max_tokens),
    ))
    body.update(p.extra)  # repetition_penalty, user, ...
    if stream:
        body["stream"] = True
    return body


def _tool(name: str, description: str, parameters: dict[str, Any],
          strict: bool | None) -> dict[str, Any]:
    fn: dict[str, Any] = {"name": name, "parameters": parameters}
    if description:
        fn["description"] = description
    if strict is not None:
        fn["strict"] = strict
    return {"type": "function", "function": fn}


def _messages(messages: list[Message], provider: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        parts = m.parts
        results = [p for p in parts if isinstance(p, ToolResultPart)]
        for r in results:
            out.append({"role": "tool", "tool_call_id": r.tool_call_id, "content": r.content})
        if m.role == "tool":
            if len(results) != len(parts) or not results:
                raise BadRequestError("a tool message may only hold tool results "
                                      "(ToolResultPart, with tool_call_id)", provider=provider)
            continue
        if results and len(results) == len(parts):
            continue
        if m.role == "system":
            out.append({"role": "system", "content": m.text})
        elif m.role == "assistant":
            out.append(_assistant(m))
        else:
            out.append({"role": "user", "content": _user_content(m, provider)})
    return out


def _assistant(m: Message) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant"}
    if m.text:
        msg["content"] = m.text
    calls = [p for p in m.parts if isinstance(p, ToolCallPart)]
    if calls:
        msg["tool_calls"] = [
            {"id": c.id, "function": {"name": c.name,
                                      "arguments": json.dumps(c.arguments, ensure_ascii=False,
                                                              separators=(",", ":"))}}
            for c in calls]
    elif "content" not in msg:
        msg["content"] = ""
    return msg


def _user_content(m: Message, provider: str) -> str | list[dict[str, Any]]:
    if isinstance(m.content, str):
        return m.content
    parts: list[dict[str, Any]] = []
    for p in m.content:
        if isinstance(p, TextPart):
            parts.append({"type": "text", "text": p.text})
        elif isinstance(p, ImagePart):
            url = image_url(p)
            if url is None:
                raise BadRequestError("an image part needs a url or base64 data",
                                      provider=provider)
            parts.append({"type": "image_url", "image_url": {"url": url}})
    return text_or_parts(parts)
