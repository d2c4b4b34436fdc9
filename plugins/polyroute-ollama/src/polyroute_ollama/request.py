"""Neutral ``ChatRequest`` → body of ``POST /api/chat``.

Reference: https://github.com/ollama/ollama/blob/main/docs/api.md#generate-a-chat-completion
(parameters, message fields ``images``/``tool_calls``/``tool_name``/``thinking``,
``format``, ``options``, ``keep_alive``, ``think``) and
https://github.com/ollama/ollama/blob/main/docs/modelfile.md#valid-parameters-and-values
(the ``options``).

Not one-to-one:

- ``stream`` is always sent: the API streams unless told ``false``.
- Sampling parameters go into ``options``: ``max_tokens`` → ``num_predict``;
  ``temperature``, ``top_p``, ``top_k``, ``seed``, ``stop``,
  ``frequency_penalty`` and ``presence_penalty`` keep their names.
- ``params.extra``: the request-level keys (``keep_alive``, ``think``,
  ``format``, ``options``, ``logprobs``, ``top_logprobs``) go top-level; every
  other key is an option (``num_ctx``, ``repeat_penalty``, ``min_p``,
  ``mirostat``...). ``settings.extra["options"]`` / ``["keep_alive"]`` /
  ``["think"]`` are provider-wide defaults under them.
- Images must be base64 (``images`` on the message): ``data`` or a ``data:``
  URL. An ``http(s)`` URL is refused — the server does not fetch URLs and a
  sans-IO translator must not either.
- Tool calls carry ``arguments`` as an object and no id; tool results are
  ``role: "tool"`` messages with ``tool_name`` (taken from the result part, or
  looked up from the assistant call it answers).
- ``tool_choice``: the API has none. ``none`` sends no tools; a named tool sends
  only that tool (the closest the API allows); ``required`` cannot be enforced
  and is sent as plain tools, with a warning in the log.
"""

from __future__ import annotations

import logging
from typing import Any

from polyroute.errors import BadRequestError
from polyroute.types import (
    ChatRequest,
    ImagePart,
    Message,
    NamedToolChoice,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)

__all__ = ["REQUEST_LEVEL_KEYS", "build_body", "convert_messages"]

logger = logging.getLogger("polyroute_ollama")

REQUEST_LEVEL_KEYS = frozenset(
    {"keep_alive", "think", "format", "options", "logprobs", "top_logprobs"}
)
"""``params.extra`` keys that belong at the top of the body, not in ``options``."""


def build_body(
    request: ChatRequest,
    model: str,
    *,
    stream: bool,
    defaults: dict[str, Any] | None = None,
    provider: str = "",
) -> dict[str, Any]:
    """The JSON body for ``POST /api/chat``. ``defaults`` is ``settings.extra``."""
    defaults = defaults or {}
    body: dict[str, Any] = {
        "model": model,
        "messages": convert_messages(request.messages, provider=provider),
        "stream": stream,
    }
    tools = _tools(request, model)
    if tools:
        body["tools"] = tools
    fmt = request.response_format
    if fmt is not None and fmt.type == "json_object":
        body["format"] = "json"
    elif fmt is not None and fmt.type == "json_schema":
        body["format"] = fmt.json_schema or {"type": "object"}

    options: dict[str, Any] = dict(defaults.get("options") or {})
    p = request.params
    for name, value in (
        ("temperature", p.temperature),
        ("top_p", p.top_p),
        ("top_k", p.top_k),
        ("num_predict", p.max_tokens),
        ("seed", p.seed),
        ("stop", p.stop),
        ("frequency_penalty", p.frequency_penalty),
        ("presence_penalty", p.presence_penalty),
    ):
        if value is not None:
            options[name] = value
    for key in ("keep_alive", "think"):
        if defaults.get(key) is not None:
            body[key] = defaults[key]
    for key, value in p.extra.items():
        if key == "options" and isinstance(value, dict):
            options.update(value)
        elif key in REQUEST_LEVEL_KEYS:
            body[key] = value
        else:
            options[key] = value
    if options:
        body["options"] = options
    return body


def _tools(request: ChatRequest, model: str) -> list[dict[str, Any]]:
    choice = request.tool_choice
    specs = list(request.tools)
    if not specs or choice == "none":
        return []
    if isinstance(choice, NamedToolChoice):
        specs = [t for t in specs if t.name == choice.name]
        if not specs:
            raise BadRequestError(f"tool_choice names '{choice.name}', which is not in tools")
    elif choice == "required":
        logger.warning(
            "ollama has no tool_choice: 'required' cannot be enforced for %s", model
        )
    return [
        {
            "type": "function",
            "function": {
                "name": t.name,
                **({"description": t.description} if t.description else {}),
                "parameters": t.parameters,
            },
        }
        for t in specs
    ]


def convert_messages(messages: list[Message], *, provider: str = "") -> list[dict[str, Any]]:
    """Neutral messages → Ollama messages (one tool message per tool result)."""
    call_names: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if message.role == "tool" or any(isinstance(p, ToolResultPart) for p in message.parts):
            out.extend(_tool_results(message, index, call_names))
            continue
        msg: dict[str, Any] = {"role": message.role, "content": message.text}
        images = [_image(p, index) for p in message.parts if isinstance(p, ImagePart)]
        if images:
            msg["images"] = images
        calls = message.tool_calls
        if calls:
            if message.role != "assistant":
                raise BadRequestError(f"messages[{index}]: only assistants make tool calls",
                                      provider=provider)
            for call in calls:
                call_names[call.id] = call.name
            msg["tool_calls"] = [_call(c) for c in calls]
        out.append(msg)
    return out


def _tool_results(
    message: Message, index: int, call_names: dict[str, str]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for part in message.parts:
        if isinstance(part, ToolResultPart):
            msg: dict[str, Any] = {"role": "tool", "content": part.content}
            name = part.name or call_names.get(part.tool_call_id)
            if name:
                msg["tool_name"] = name
            out.append(msg)
        elif isinstance(part, TextPart) and message.role == "tool":
            raise BadRequestError(
                f"messages[{index}]: a tool message needs ToolResultPart content "
                "(with tool_call_id), not plain text"
            )
    return out


def _call(call: ToolCallPart) -> dict[str, Any]:
    return {"function": {"name": call.name, "arguments": call.arguments}}


def _image(part: ImagePart, index: int) -> str:
    if part.data:
        return part.data
    url = part.url or ""
    if url.startswith("data:"):
        head, _, data = url.partition(",")
        if ";base64" not in head or not data:
            raise BadRequestError(f"messages[{index}]: image data URL must be base64")
        return data
    raise BadRequestError(
        f"messages[{index}]: Ollama takes images as base64 only (give ImagePart.data or a "
        "data: URL); it does not fetch image URLs"
    )
