"""LlamaIndex tools, tool choice and response format → polyroute's neutral types."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.llms.utils import parse_partial_json

from polyroute.adapter_common import response_format_from_mapping, tool_specs
from polyroute.types import NamedToolChoice, ResponseFormat, ToolChoice, ToolSpec

__all__ = ["neutral_response_format", "neutral_tool_choice", "neutral_tools"]

_CHOICES = {"auto": "auto", "none": "none", "required": "required", "any": "required"}


def _kwargs(raw: Any) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    if isinstance(raw, str) and raw.strip():
        try:
            value = parse_partial_json(raw)
        except (ValueError, TypeError):
            return {}
        return value if isinstance(value, dict) else {}
    return {}


def neutral_tools(tools: Sequence[Any]) -> list[ToolSpec]:
    """Tools given to a call — ``ToolSpec``, OpenAI tool dicts or LlamaIndex tools."""
    return tool_specs(tools, _openai_tool)


def _openai_tool(tool: Any) -> Mapping[str, Any]:
    if isinstance(tool, Mapping):
        return tool
    if hasattr(tool, "metadata") and hasattr(tool.metadata, "to_openai_tool"):
        spec: Mapping[str, Any] = tool.metadata.to_openai_tool(skip_length_check=True)
        return spec
    raise TypeError(f"cannot use {tool!r} as a tool (give a LlamaIndex tool or a dict)")


def neutral_tool_choice(choice: Any) -> ToolChoice | None:
    """``auto``/``none``/``required``/``any``, a tool name, or an OpenAI/Anthropic dict."""
    if choice is None or isinstance(choice, NamedToolChoice):
        return choice
    if isinstance(choice, str):
        forced = _CHOICES.get(choice)
        return forced if forced is not None else NamedToolChoice(name=choice)  # type: ignore[return-value]
    if isinstance(choice, Mapping):
        fn = choice.get("function")
        if isinstance(fn, Mapping) and fn.get("name"):
            return NamedToolChoice(name=str(fn["name"]))
        if choice.get("name"):
            return NamedToolChoice(name=str(choice["name"]))
        kind = choice.get("type")
        if isinstance(kind, str) and kind in _CHOICES:
            return _CHOICES[kind]  # type: ignore[return-value]
    raise ValueError(f"unrecognised tool_choice {choice!r}")


def neutral_response_format(value: Any) -> ResponseFormat | None:
    """``response_format``: a ``ResponseFormat``, an OpenAI dict or a pydantic class."""
    if value is None or isinstance(value, ResponseFormat):
        return value
    if isinstance(value, Mapping) and (known := response_format_from_mapping(value)):
        return known
    if isinstance(value, type) and hasattr(value, "model_json_schema"):
        return ResponseFormat(type="json_schema", name=value.__name__,
                              json_schema=value.model_json_schema())
    raise ValueError(f"unrecognised response_format {value!r}")
