"""LlamaIndex messages ↔ polyroute's neutral ``Message``.

``to_neutral`` reads what LlamaIndex code sends: ``ChatMessage`` with a
plain ``content`` string or ``blocks`` (``TextBlock``, ``ImageBlock`` given by
URL, bytes or path, ``ToolCallBlock``), tool calls carried the older way in
``additional_kwargs["tool_calls"]`` (OpenAI-shaped dicts or objects), and tool
results as ``role="tool"`` messages with ``additional_kwargs["tool_call_id"]``
(what ``FunctionAgent`` writes). Reasoning traces (``ThinkingBlock``) and
cache markers (``CachePoint``) carry no input and are skipped; audio, video
and documents are refused with ``UnsupportedContentError``.

``to_llamaindex`` is the reverse: an answer becomes an assistant
``ChatMessage`` with a ``TextBlock`` and one ``ToolCallBlock`` per tool call,
the calls mirrored in ``additional_kwargs["tool_calls"]`` (OpenAI-shaped) for
code that reads them there.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ImageBlock,
    MessageRole,
    TextBlock,
)

from polyroute.adapter_common import (
    UnsupportedContentError,
    compact,
    image_from_url,
    signatures_kwargs,
    signed,
)
from polyroute.types import ImagePart, Message, Part, Role, TextPart, ToolCallPart, ToolResultPart

try:  # llama-index-core >= 0.14
    from llama_index.core.base.llms.types import ToolCallBlock
except ImportError:  # pragma: no cover - older cores carry tool calls in additional_kwargs
    ToolCallBlock = None  # type: ignore[assignment,misc]

__all__ = [
    "ToolCallBlock",
    "UnsupportedContentError",
    "openai_tool_calls",
    "to_llamaindex",
    "to_neutral",
    "to_neutral_messages",
]

_ROLES: dict[str, Role] = {
    "system": "system", "developer": "system", "user": "user", "assistant": "assistant",
    "model": "assistant", "chatbot": "assistant", "tool": "tool", "function": "tool",
}
_SKIPPED_BLOCKS = frozenset({"thinking", "cache", "cache_control"})


# --- LlamaIndex → neutral -------------------------------------------------------


def to_neutral_messages(messages: Sequence[ChatMessage]) -> list[Message]:
    """LlamaIndex chat messages as neutral messages, in order."""
    return [to_neutral(m) for m in messages]


def to_neutral(message: ChatMessage) -> Message:
    """One LlamaIndex ``ChatMessage`` as a neutral ``Message``."""
    role_name = message.role.value if isinstance(message.role, MessageRole) else str(message.role)
    role = _ROLES.get(role_name)
    if role is None:
        raise UnsupportedContentError(f"message role '{role_name}' has no polyroute equivalent")
    name = message.additional_kwargs.get("name")
    name = name if isinstance(name, str) and name else None
    if role == "tool":
        return Message(role="tool", content=[_tool_result(message)])
    parts: list[Part] = []
    calls: list[ToolCallPart] = []
    for block in message.blocks:
        kind = getattr(block, "block_type", None)
        if isinstance(block, TextBlock):
            if block.text:
                parts.append(TextPart(text=block.text))
        elif isinstance(block, ImageBlock):
            parts.append(_image(block))
        elif ToolCallBlock is not None and isinstance(block, ToolCallBlock):
            calls.append(_call(block.tool_call_id, block.tool_name, block.tool_kwargs, len(calls)))
        elif kind in _SKIPPED_BLOCKS:
            continue
        else:
            raise UnsupportedContentError(
                f"content block of type '{kind}' is not supported by polyroute "
                "(supported: text, image, tool_call)"
            )
    if role == "assistant" and not calls:
        calls = [_call(*_legacy_call(c), i) for i, c in
                 enumerate(message.additional_kwargs.get("tool_calls") or [])]
    if role != "assistant" and calls:
        raise UnsupportedContentError(f"a {role} message cannot carry tool calls")
    return Message(role=role, content=compact([*parts, *signed(calls, message.additional_kwargs)]),
                   name=name)


def _tool_result(message: ChatMessage) -> ToolResultPart:
    kwargs = message.additional_kwargs
    call_id = kwargs.get("tool_call_id") or kwargs.get("tool_use_id")
    if not call_id:
        raise UnsupportedContentError(
            "a tool message needs additional_kwargs['tool_call_id'] (the call it answers)"
        )
    texts: list[str] = []
    for block in message.blocks:
        if isinstance(block, TextBlock):
            texts.append(block.text)
        elif getattr(block, "block_type", None) in _SKIPPED_BLOCKS:
            continue
        else:
            raise UnsupportedContentError(
                f"a tool result block of type '{getattr(block, 'block_type', '?')}' cannot be "
                "sent: polyroute tool results carry text"
            )
    name = kwargs.get("name") or kwargs.get("tool_name")
    return ToolResultPart(
        tool_call_id=str(call_id), content="\n".join(texts),
        name=str(name) if name else None, is_error=bool(kwargs.get("is_error", False)),
    )


def _image(block: ImageBlock) -> ImagePart:
    detail = block.detail if block.detail in ("auto", "low", "high") else None
    mime = block.image_mimetype
    if block.image:  # ImageBlock keeps inline bytes base64-encoded
        data = block.image if isinstance(block.image, bytes) else block.resolve_image().read()
        return ImagePart(data=data.decode("ascii"), media_type=mime, detail=detail)
    if block.path:
        raw = block.path.read_bytes()
        return ImagePart(data=base64.b64encode(raw).decode("ascii"), media_type=mime,
                         detail=detail)
    if block.url:
        return image_from_url(str(block.url), detail=detail, media_type=mime)
    raise UnsupportedContentError("an image block needs image bytes, a path or a url")


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    if isinstance(raw, str):
        if not raw.strip():
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            return {"_raw": raw}
        return value if isinstance(value, dict) else {"_value": value}
    return {}


def _call(call_id: str | None, name: str, arguments: Any, index: int) -> ToolCallPart:
    return ToolCallPart(id=call_id or f"call_{index}", name=name, arguments=_arguments(arguments))


def _legacy_call(call: Any) -> tuple[str | None, str, Any]:
    """An OpenAI-shaped tool call (dict or SDK object) as ``(id, name, arguments)``."""
    if isinstance(call, Mapping):
        fn = call.get("function") or {}
        return call.get("id"), str(fn.get("name", "")), fn.get("arguments")
    fn = getattr(call, "function", None)
    return getattr(call, "id", None), str(getattr(fn, "name", "")), getattr(fn, "arguments", None)


# --- neutral → LlamaIndex -------------------------------------------------------


def openai_tool_calls(calls: Iterable[ToolCallPart]) -> list[dict[str, Any]]:
    """Tool calls in the OpenAI shape LlamaIndex code reads from ``additional_kwargs``."""
    return [
        {"id": c.id, "type": "function",
         "function": {"name": c.name,
                      "arguments": json.dumps(c.arguments, ensure_ascii=False)}}
        for c in calls
    ]


def to_llamaindex(message: Message) -> ChatMessage:
    """A neutral message as a LlamaIndex ``ChatMessage``."""
    if message.role == "tool":
        results = [p for p in message.parts if isinstance(p, ToolResultPart)]
        first = results[0] if results else None
        return ChatMessage(
            role=MessageRole.TOOL, content="\n".join(p.content for p in results),
            additional_kwargs={"tool_call_id": first.tool_call_id, "name": first.name}
            if first else {},
        )
    blocks: list[Any] = []
    for p in message.parts:
        if isinstance(p, TextPart):
            blocks.append(TextBlock(text=p.text))
        elif isinstance(p, ImagePart):
            if p.data is not None:
                blocks.append(ImageBlock(url=f"data:{p.media_type or 'image/png'};base64,{p.data}",
                                         image_mimetype=p.media_type, detail=p.detail))
            else:
                blocks.append(ImageBlock(url=p.url, image_mimetype=p.media_type, detail=p.detail))
    calls = message.tool_calls
    if ToolCallBlock is not None:
        blocks += [ToolCallBlock(tool_call_id=c.id, tool_name=c.name, tool_kwargs=c.arguments)
                   for c in calls]
    if not blocks:
        blocks.append(TextBlock(text=""))
    kwargs: dict[str, Any] = (
        {"tool_calls": openai_tool_calls(calls), **signatures_kwargs(calls)} if calls else {}
    )
    if message.name:
        kwargs["name"] = message.name
    role = {"system": MessageRole.SYSTEM, "user": MessageRole.USER,
            "assistant": MessageRole.ASSISTANT}[message.role]
    return ChatMessage(role=role, blocks=blocks, additional_kwargs=kwargs)
