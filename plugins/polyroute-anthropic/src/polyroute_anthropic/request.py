"""Neutral ``ChatRequest`` → Messages API request body.

Reference: https://docs.claude.com/en/api/messages (request body),
https://docs.claude.com/en/docs/agents-and-tools/tool-use/implement-tool-use
(tools, ``tool_choice``, ``tool_result`` blocks).

What the translation does that is not one-to-one:

- ``system`` messages, wherever they are in the list, are lifted into the
  top-level ``system`` string (joined with a blank line).
- ``tool`` messages become ``user`` messages of ``tool_result`` blocks, and
  consecutive messages of one role are merged: the API wants user and
  assistant turns to alternate, and all results of one turn in one message
  (``tool_result`` blocks first).
- ``max_tokens`` is required: the request's, else the catalog's max output of
  the model, else ``settings.extra["default_max_tokens"]`` or 4096.
- Thinking blocks that came before a ``tool_use`` (kept on the call's
  ``signature``, see ``thinking.py``) go back with it, unmodified.
- JSON output has no native switch: ``response_format`` becomes a tool named
  ``structured_output__<name>`` whose ``input_schema`` is the schema, forced
  with ``tool_choice``; the parser turns that tool's input back into JSON text.
"""

from __future__ import annotations

import re
from typing import Any

from polyroute.errors import BadRequestError
from polyroute.providers.request_parts import image_data, sniff_image
from polyroute.types import (
    ChatRequest,
    ImagePart,
    Message,
    NamedToolChoice,
    ResponseFormat,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from polyroute_anthropic.catalog import DEFAULT_MAX_TOKENS, lookup
from polyroute_anthropic.thinking import decode as decode_thinking

__all__ = ["JSON_TOOL_PREFIX", "build_body", "is_json_tool", "json_tool_name"]

JSON_TOOL_PREFIX = "structured_output__"
"""Name prefix of the tool that emulates JSON output (recognised by the parsers)."""

_TOOL_NAME_BAD = re.compile(r"[^a-zA-Z0-9_-]")


def json_tool_name(name: str | None) -> str:
    """The tool name for a response format named ``name`` (≤ 64 chars, API-safe)."""
    clean = _TOOL_NAME_BAD.sub("_", name or "json") or "json"
    return (JSON_TOOL_PREFIX + clean)[:64]


def is_json_tool(name: object) -> bool:
    return isinstance(name, str) and name.startswith(JSON_TOOL_PREFIX)


def build_body(
    request: ChatRequest, model: str, *, stream: bool, default_max_tokens: int | None = None
) -> dict[str, Any]:
    """The JSON body for ``POST /v1/messages``."""
    system, messages = convert_messages(request.messages)
    params = request.params
    body: dict[str, Any] = {"model": model, "max_tokens": _max_tokens(request, model,
                                                                      default_max_tokens)}
    if system:
        body["system"] = system
    body["messages"] = messages
    if params.temperature is not None:
        body["temperature"] = params.temperature
    if params.top_p is not None:
        body["top_p"] = params.top_p
    if params.top_k is not None:
        body["top_k"] = params.top_k
    if params.stop:
        body["stop_sequences"] = list(params.stop)
    # frequency_penalty, presence_penalty and seed have no Messages API
    # equivalent: AnthropicProvider.supported_params leaves them out, so the
    # core's params_policy drops (and warns) or refuses before we get here.
    tools, tool_choice = _tools(request)
    if tools:
        body["tools"] = tools
        if tool_choice is not None:
            body["tool_choice"] = tool_choice
    if stream:
        body["stream"] = True
    body.update(params.extra)  # verbatim pass-through: thinking, metadata, ...
    return body


def _max_tokens(request: ChatRequest, model: str, default: int | None) -> int:
    if request.params.max_tokens is not None:
        return request.params.max_tokens
    info = lookup(model)
    if info is not None and info.max_output_tokens:
        return info.max_output_tokens
    return default or DEFAULT_MAX_TOKENS


# --- messages ----------------------------------------------------------------


def convert_messages(messages: list[Message]) -> tuple[str, list[dict[str, Any]]]:
    """``(system, messages)``: system text lifted out, roles alternating."""
    system: list[str] = []
    turns: list[tuple[str, list[dict[str, Any]]]] = []
    for index, message in enumerate(messages):
        if message.role == "system":
            if message.text:
                system.append(message.text)
            continue
        role = "assistant" if message.role == "assistant" else "user"
        blocks = [_block(part, message, index) for part in message.parts]
        blocks = [b for b in blocks if not (b["type"] == "text" and not b["text"])]
        if role == "assistant":
            blocks = _with_thinking(message, blocks)
        if not blocks:
            continue
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, blocks))
    out: list[dict[str, Any]] = []
    for role, blocks in turns:
        if role == "user":  # tool results must come first in their user message
            blocks = sorted(blocks, key=lambda b: b["type"] != "tool_result")
        content: str | list[dict[str, Any]] = blocks
        if len(blocks) == 1 and blocks[0]["type"] == "text" and set(blocks[0]) == {"type", "text"}:
            content = blocks[0]["text"]
        out.append({"role": role, "content": content})
    return "\n\n".join(system), out


def _with_thinking(message: Message, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Claude's thinking blocks back in place: each call's before its ``tool_use``,
    the first call's at the very start of the turn (the API requires it there)."""
    calls = message.tool_calls
    if not any(c.signature for c in calls):
        return blocks
    out: list[dict[str, Any]] = list(decode_thinking(calls[0].signature))
    by_id = {c.id: c for c in calls[1:]}
    for block in blocks:
        if block["type"] == "tool_use" and block["id"] in by_id:
            out.extend(decode_thinking(by_id[block["id"]].signature))
        out.append(block)
    return out


def _block(part: Any, message: Message, index: int) -> dict[str, Any]:
    if isinstance(part, TextPart):
        if message.role == "tool":
            raise BadRequestError(
                f"messages[{index}]: a tool message needs ToolResultPart content "
                "(with tool_call_id), not plain text"
            )
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        return {"type": "image", "source": _image_source(part, index)}
    if isinstance(part, ToolCallPart):
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": part.arguments}
    if isinstance(part, ToolResultPart):
        block: dict[str, Any] = {
            "type": "tool_result", "tool_use_id": part.tool_call_id, "content": part.content,
        }
        if part.is_error:
            block["is_error"] = True
        return block
    raise BadRequestError(f"messages[{index}]: unsupported part {type(part).__name__}")


def _image_source(part: ImagePart, index: int) -> dict[str, Any]:
    data, media_type = image_data(part, index)
    if data is None:
        if not part.url:
            raise BadRequestError(f"messages[{index}]: image needs a url or data")
        return {"type": "url", "url": part.url}
    media_type = media_type or sniff_image(data)
    if media_type is None:
        raise BadRequestError(f"messages[{index}]: image data needs a media_type")
    return {"type": "base64", "media_type": media_type, "data": data}


# --- tools and JSON emulation ------------------------------------------------


def _tools(request: ChatRequest) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    tools = [
        {
            "name": t.name,
            **({"description": t.description} if t.description else {}),
            "input_schema": t.parameters,
        }
        for t in request.tools
    ]
    choice = _tool_choice(request.tool_choice)
    fmt = request.response_format
    if fmt is not None and fmt.type != "text":
        json_tool = _json_tool(fmt)
        tools.append(json_tool)
        if not request.tools or (choice is not None and choice["type"] == "none"):
            choice = {"type": "tool", "name": json_tool["name"]}
        elif choice is None or choice["type"] == "auto":
            # With user tools the model may still call one of them, but must
            # call *some* tool: the JSON tool is how it gives its final answer.
            choice = {"type": "any"}
    if not tools:
        return [], None
    if request.parallel_tool_calls is False and (choice is None or choice["type"] != "none"):
        choice = {**(choice or {"type": "auto"}), "disable_parallel_tool_use": True}
    return tools, choice


def _tool_choice(choice: object) -> dict[str, Any] | None:
    if choice is None:
        return None
    if isinstance(choice, NamedToolChoice):
        return {"type": "tool", "name": choice.name}
    mapping = {"auto": "auto", "required": "any", "none": "none"}
    return {"type": mapping[str(choice)]}


def _json_tool(fmt: ResponseFormat) -> dict[str, Any]:
    schema: dict[str, Any]
    if fmt.type == "json_schema" and fmt.json_schema:
        schema = dict(fmt.json_schema)
        schema.setdefault("type", "object")
    else:
        schema = {"type": "object", "additionalProperties": True}
    return {
        "name": json_tool_name(fmt.name),
        "description": "Give your final answer as the input of this tool, as JSON "
        "matching its input schema. Do not answer in plain text.",
        "input_schema": schema,
    }
