"""LangChain messages ↔ polyroute's neutral ``Message``.

``to_neutral`` accepts everything LangChain users send: plain strings, OpenAI
chat-completions content blocks (``text``, ``image_url``), LangChain v1
standard blocks (``image`` with ``url`` or ``base64``, ``tool_call``), the
older v0 standard blocks (``source_type``) and Anthropic-style blocks
(``image`` with ``source``, ``tool_use``, ``thinking``). Tool calls always
travel through ``AIMessage.tool_calls``; ``tool_use`` / ``tool_call`` blocks
in an assistant's content are therefore skipped rather than sent twice.

``to_langchain`` is the reverse, used for histories that polyroute stores
and for tests.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.tool import tool_call

from polyroute.adapter_common import (
    UnsupportedContentError,
    compact,
    image_from_url,
    signatures_kwargs,
    signed,
)
from polyroute.types import ImagePart, Message, Part, Role, TextPart, ToolCallPart, ToolResultPart

__all__ = [
    "UnsupportedContentError",
    "to_langchain",
    "to_langchain_messages",
    "to_neutral",
    "to_neutral_messages",
]

# Blocks that carry no input for the model (reasoning traces, provider
# bookkeeping) or that duplicate ``AIMessage.tool_calls``.
_SKIPPED_BLOCKS = frozenset(
    {
        "tool_use", "tool_call", "tool_call_chunk", "invalid_tool_call", "server_tool_call",
        "server_tool_call_chunk", "server_tool_result", "thinking", "redacted_thinking",
        "reasoning", "function_call", "non_standard",
    }
)
_CHAT_ROLES: dict[str, Role] = {
    "system": "system", "developer": "system", "user": "user", "human": "user",
    "assistant": "assistant", "ai": "assistant", "tool": "tool",
}


# --- LangChain → neutral ------------------------------------------------------


def to_neutral_messages(messages: Sequence[BaseMessage]) -> list[Message]:
    """Convert a LangChain message list to neutral messages, in order."""
    return [to_neutral(m) for m in messages]


def to_neutral(message: BaseMessage) -> Message:
    """One LangChain message as a neutral ``Message``."""
    if isinstance(message, SystemMessage):
        return Message(role="system", content=_content(message.content), name=message.name)
    if isinstance(message, HumanMessage):
        return Message(role="user", content=_content(message.content), name=message.name)
    if isinstance(message, AIMessage):
        return _assistant(message)
    if isinstance(message, ToolMessage):
        return Message(role="tool", content=[_tool_result(message)])
    if isinstance(message, ChatMessage):
        role = _CHAT_ROLES.get(message.role)
        if role is None or role == "tool":
            raise UnsupportedContentError(
                f"ChatMessage role '{message.role}' has no polyroute equivalent "
                "(use system, user or assistant)"
            )
        return Message(role=role, content=_content(message.content), name=message.name)
    raise UnsupportedContentError(
        f"{type(message).__name__} is not supported; use System/Human/AI/ToolMessage"
    )


def _assistant(message: AIMessage) -> Message:
    content = _content(message.content)
    calls = signed((ToolCallPart(id=tc.get("id") or f"call_{i}", name=tc["name"],
                                 arguments=tc["args"])
                    for i, tc in enumerate(message.tool_calls)), message.additional_kwargs)
    if not calls:
        return Message(role="assistant", content=content, name=message.name)
    parts: list[Part] = [TextPart(text=content)] if isinstance(content, str) and content else []
    if isinstance(content, list):
        parts.extend(content)
    parts.extend(calls)
    return Message(role="assistant", content=parts, name=message.name)


def _tool_result(message: ToolMessage) -> ToolResultPart:
    return ToolResultPart(
        tool_call_id=message.tool_call_id,
        content=_tool_text(message.content),
        name=message.name,
        is_error=message.status == "error",
    )


def _tool_text(content: str | list[str | dict[str, Any]]) -> str:
    if isinstance(content, str):
        return content
    texts: list[str] = []
    for block in content:
        if isinstance(block, str):
            texts.append(block)
        elif block.get("type") == "text":
            texts.append(str(block.get("text", "")))
        elif block.get("type") == "json" and "json" in block:
            texts.append(json.dumps(block["json"], ensure_ascii=False))
        else:
            raise UnsupportedContentError(
                f"a tool result block of type '{block.get('type')}' cannot be sent: "
                "polyroute tool results carry text"
            )
    return "".join(texts)


def _content(content: str | list[str | dict[str, Any]]) -> str | list[Part]:
    if isinstance(content, str):
        return content
    return compact([p for p in (_part(b) for b in content) if p is not None])


def _part(block: str | dict[str, Any]) -> Part | None:
    if isinstance(block, str):
        return TextPart(text=block) if block else None
    kind = block.get("type")
    if kind == "text":
        text = block.get("text", "")
        return TextPart(text=text) if text else None
    if kind == "image_url":
        return _image_url_block(block)
    if kind == "image":
        return _image_block(block)
    if kind in _SKIPPED_BLOCKS:
        return None
    raise UnsupportedContentError(
        f"content block of type '{kind}' is not supported by polyroute "
        "(supported: text, image_url, image)"
    )


def _image_url_block(block: dict[str, Any]) -> ImagePart:
    spec = block.get("image_url")
    url = spec if isinstance(spec, str) else (spec or {}).get("url")
    detail = None if isinstance(spec, str) else (spec or {}).get("detail")
    if not isinstance(url, str) or not url:
        raise UnsupportedContentError("an image_url block needs image_url.url")
    return image_from_url(url, detail=detail)


def _image_block(block: dict[str, Any]) -> ImagePart:
    detail = (block.get("extras") or {}).get("detail") or block.get("detail")
    source = block.get("source")
    if isinstance(source, dict):  # Anthropic style
        if source.get("type") == "base64":
            return ImagePart(data=source.get("data"), media_type=source.get("media_type"))
        if source.get("type") == "url":
            return image_from_url(str(source.get("url")), detail=detail)
    mime = block.get("mime_type")
    if block.get("base64"):  # LangChain v1 standard
        return ImagePart(data=block["base64"], media_type=mime, detail=detail)
    source_type = block.get("source_type")  # LangChain v0 standard
    if source_type == "base64" and block.get("data"):
        return ImagePart(data=block["data"], media_type=mime, detail=detail)
    if block.get("url"):
        return image_from_url(str(block["url"]), detail=detail, media_type=mime)
    if block.get("file_id") or source_type == "id":
        raise UnsupportedContentError("image blocks given by provider file id are not supported")
    raise UnsupportedContentError("an image block needs 'url' or 'base64'")


# --- neutral → LangChain ------------------------------------------------------


def to_langchain_messages(messages: Iterable[Message]) -> list[BaseMessage]:
    """Neutral messages as LangChain messages (a tool message may become several)."""
    out: list[BaseMessage] = []
    for m in messages:
        out.extend(to_langchain(m))
    return out


def to_langchain(message: Message) -> list[BaseMessage]:
    """One neutral message as LangChain messages.

    A neutral ``tool`` message may hold several results; each becomes one
    ``ToolMessage``. Every other role maps to exactly one message.
    """
    if message.role == "tool":
        return [
            ToolMessage(
                content=p.content, tool_call_id=p.tool_call_id, name=p.name,
                status="error" if p.is_error else "success",
            )
            for p in message.parts
            if isinstance(p, ToolResultPart)
        ]
    name = {"name": message.name} if message.name else {}
    if message.role == "assistant":
        calls = [
            tool_call(name=p.name, args=p.arguments, id=p.id) for p in message.tool_calls
        ]
        return [AIMessage(content=_lc_content(message, skip_calls=True), tool_calls=calls,
                          additional_kwargs=signatures_kwargs(message.tool_calls), **name)]
    if message.role == "system":
        return [SystemMessage(content=_lc_content(message), **name)]
    return [HumanMessage(content=_lc_content(message), **name)]


def _lc_content(message: Message, *, skip_calls: bool = False) -> str | list[str | dict[str, Any]]:
    if isinstance(message.content, str):
        return message.content
    if all(isinstance(p, TextPart | ToolCallPart) for p in message.content):
        return message.text
    blocks: list[str | dict[str, Any]] = []
    for p in message.content:
        if isinstance(p, TextPart):
            blocks.append({"type": "text", "text": p.text})
        elif isinstance(p, ImagePart):
            blocks.append(_lc_image(p))
        elif isinstance(p, ToolCallPart) and not skip_calls:
            blocks.append({"type": "tool_call", "id": p.id, "name": p.name, "args": p.arguments})
    return blocks


def _lc_image(part: ImagePart) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "image"}
    if part.data is not None:
        block["base64"] = part.data
    else:
        block["url"] = part.url
    if part.media_type:
        block["mime_type"] = part.media_type
    if part.detail:
        block["extras"] = {"detail": part.detail}
    return block
