"""Neutral ``ChatRequest`` → Cohere Chat API v2 body (``POST /v2/chat``).

Reference: https://docs.cohere.com/reference/chat (request body),
https://docs.cohere.com/docs/tool-use-overview (tool calls and results),
https://docs.cohere.com/docs/structured-outputs (``response_format``).

What is not one-to-one:

- Roles ``system``/``user``/``assistant``/``tool`` map directly; an assistant's
  tool calls are ``tool_calls`` (``arguments`` a JSON string) and each tool
  result is its own ``tool`` message with ``tool_call_id``.
- ``tool_choice``: ``auto`` is the default (not sent); ``required`` →
  ``REQUIRED``; ``none`` → ``NONE``; a named tool is not supported by the API,
  so only that tool is sent, with ``REQUIRED``.
- ``strict_tools: true`` when any ``ToolSpec.strict`` is set.
- ``top_p`` → ``p``, ``top_k`` → ``k``, ``stop`` → ``stop_sequences``; the
  rest keep their names (``max_tokens``, ``seed``, penalties).
- JSON output: ``{"type": "json_object"}``, with ``json_schema`` for a schema.
- Images: ``{"type": "image_url", "image_url": {"url": ...}}`` content parts.
- ``params.extra`` is merged verbatim (``safety_mode``, ``thinking``,
  ``documents``, ``citation_options``...).
"""

from __future__ import annotations

import json
from typing import Any

from polyroute.errors import BadRequestError
from polyroute.providers.request_parts import (
    image_url,
    put_present,
    split_tool_results,
    text_or_parts,
)
from polyroute.types import ChatRequest, ImagePart, Message, NamedToolChoice, TextPart, ToolCallPart

__all__ = ["build_body", "convert_messages"]


def build_body(request: ChatRequest, model: str, *, stream: bool,
               safety_mode: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model, "messages": convert_messages(request.messages)}
    tools = request.tools
    choice = request.tool_choice
    if isinstance(choice, NamedToolChoice):
        tools = [t for t in tools if t.name == choice.name]
        if not tools:
            raise BadRequestError(f"tool_choice names '{choice.name}', which is not among the "
                                  "request's tools")
    if tools:
        body["tools"] = [{"type": "function", "function": {
            "name": t.name, **({"description": t.description} if t.description else {}),
            "parameters": t.parameters}} for t in tools]
        if choice is not None and choice != "auto":
            body["tool_choice"] = "NONE" if choice == "none" else "REQUIRED"
        if any(t.strict for t in tools):
            body["strict_tools"] = True
    fmt = request.response_format
    if fmt is not None and fmt.type != "text":
        body["response_format"] = {"type": "json_object"}
        if fmt.type == "json_schema" and fmt.json_schema:
            body["response_format"]["json_schema"] = fmt.json_schema
    p = request.params
    put_present(body, (
        ("temperature", p.temperature),
        ("p", p.top_p),
        ("k", p.top_k),
        ("max_tokens", p.max_tokens),
        ("stop_sequences", list(p.stop) if p.stop else None),
        ("seed", p.seed),
        ("frequency_penalty", p.frequency_penalty),
        ("presence_penalty", p.presence_penalty),
    ))
    if safety_mode:
        body["safety_mode"] = safety_mode
    body.update(p.extra)
    if stream:
        body["stream"] = True
    return body


def convert_messages(messages: list[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for index, m in enumerate(messages):
        results, rest = split_tool_results(m, index)
        for r in results:
            out.append({"role": "tool", "tool_call_id": r.tool_call_id,
                        "content": r.content if not r.is_error else f"Error: {r.content}"})
        if m.role == "tool" or (results and not rest):
            continue
        if m.role == "system":
            out.append({"role": "system", "content": m.text})
        elif m.role == "assistant":
            msg: dict[str, Any] = {"role": "assistant"}
            if m.text:
                msg["content"] = m.text
            calls = m.tool_calls
            if calls:
                msg["tool_calls"] = [_call(c) for c in calls]
            out.append(msg)
        else:
            out.append({"role": "user", "content": _user_content(m, index)})
    return out


def _call(c: ToolCallPart) -> dict[str, Any]:
    return {"id": c.id, "type": "function",
            "function": {"name": c.name, "arguments": json.dumps(c.arguments,
                                                                 ensure_ascii=False)}}


def _user_content(m: Message, index: int) -> str | list[dict[str, Any]]:
    if isinstance(m.content, str):
        return m.content
    parts: list[dict[str, Any]] = []
    for p in m.content:
        if isinstance(p, TextPart):
            parts.append({"type": "text", "text": p.text})
        elif isinstance(p, ImagePart):
            url = image_url(p)
            if url is None:
                raise BadRequestError(f"messages[{index}]: an image needs a url or data")
            image: dict[str, Any] = {"url": url}
            if p.detail:
                image["detail"] = p.detail
            parts.append({"type": "image_url", "image_url": image})
        else:
            raise BadRequestError(f"messages[{index}]: a user message cannot hold "
                                  f"{type(p).__name__}")
    return text_or_parts(parts)
