"""Building request bodies: the pieces several plugins translate the same way.

Images (a base64 ``data:`` URL taken apart, the media type sniffed from the
first bytes, an ``image_url`` for OpenAI-shaped APIs), the OpenAI-shaped
``function`` tool, sampling parameters copied under the API's own names, and
the split of a message into tool results and the rest. Each raises
``BadRequestError`` naming the message (``messages[3]: ...``) for input the
API cannot take, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from polyroute.errors import BadRequestError
from polyroute.types import ImagePart, Message, Part, ToolResultPart

__all__ = [
    "IMAGE_MAGIC", "function_tool", "image_data", "image_url", "put_present", "sniff_image",
    "split_tool_results", "text_or_parts",
]

IMAGE_MAGIC: Mapping[str, str] = {
    "iVBOR": "image/png", "/9j/": "image/jpeg", "R0lGOD": "image/gif", "UklGR": "image/webp",
}
"""The first characters of base64 image data → its media type."""


def sniff_image(data: str) -> str | None:
    """The media type of base64 image ``data`` from its first bytes, if known."""
    for prefix, media_type in IMAGE_MAGIC.items():
        if data.startswith(prefix):
            return media_type
    return None


def image_data(part: ImagePart, index: int) -> tuple[str | None, str | None]:
    """``(base64 data, media type)`` of an image part: its ``data``, or a base64 ``data:``
    URL taken apart (``(None, media_type)`` for any other URL). ``BadRequestError`` for
    a ``data:`` URL that is not base64."""
    data, media_type = part.data, part.media_type
    if data is None and part.url and part.url.startswith("data:"):
        head, _, data = part.url.partition(",")
        if ";base64" not in head:
            raise BadRequestError(f"messages[{index}]: image data URL must be base64")
        media_type = media_type or head[5:].split(";")[0] or None
    return data, media_type


def image_url(part: ImagePart) -> str | None:
    """The URL an OpenAI-shaped API takes: the part's ``url``, or its data as a base64
    ``data:`` URL (PNG when no media type is given); ``None`` when it has neither."""
    if part.url:
        return part.url
    if part.data:
        return f"data:{part.media_type or 'image/png'};base64,{part.data}"
    return None


def function_tool(name: str, description: str, parameters: dict[str, Any],
                  strict: bool | None) -> dict[str, Any]:
    """An OpenAI-shaped ``{"type": "function", "function": {...}}`` tool."""
    fn: dict[str, Any] = {"name": name}
    if description:
        fn["description"] = description
    fn["parameters"] = parameters
    if strict is not None:
        fn["strict"] = strict
    return {"type": "function", "function": fn}


def put_present(target: dict[str, Any], fields: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Set each ``(name, value)`` whose value is not ``None`` on ``target``: sampling
    parameters under the API's own names, left out when the caller gave none."""
    for name, value in fields:
        if value is not None:
            target[name] = value
    return target


def split_tool_results(message: Message, index: int) -> tuple[list[ToolResultPart], list[Part]]:
    """``(tool results, other parts)`` of a message; ``BadRequestError`` for a ``tool``
    message that holds anything but tool results (or none)."""
    results = [p for p in message.parts if isinstance(p, ToolResultPart)]
    rest: list[Part] = [p for p in message.parts if not isinstance(p, ToolResultPart)]
    if message.role == "tool" and (rest or not results):
        raise BadRequestError(f"messages[{index}]: a tool message needs ToolResultPart "
                              "content (with tool_call_id), not plain text")
    return results, rest


def text_or_parts(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """User content as one string when every part is text (what every API accepts),
    else the list of parts."""
    if all(p["type"] == "text" for p in parts):
        return "".join(p["text"] for p in parts)
    return parts
