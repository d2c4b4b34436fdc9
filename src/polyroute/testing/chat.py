"""Small request builders plugin tests share.

``user("hi", tools=[WEATHER])`` is the one-message request most scenario tests
start from; ``WEATHER`` is a tool whose schema stand-ins can fill (a required
string and an optional integer), so a tool-calling turn needs no fixture.
"""

from __future__ import annotations

from typing import Any

from polyroute.types import ChatRequest, Message, ToolSpec

__all__ = ["WEATHER", "user"]

WEATHER = ToolSpec(name="get_weather", description="Weather",
                   parameters={"type": "object",
                               "properties": {"city": {"type": "string"},
                                              "days": {"type": "integer"}},
                               "required": ["city"]})


def user(text: str, **fields: Any) -> ChatRequest:
    """A request of one user message ``text``; ``fields`` are other ``ChatRequest`` fields."""
    return ChatRequest(messages=[Message.user(text)], **fields)
