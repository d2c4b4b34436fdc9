"""Tools, tool choice, response formats and structured output for ``RoutedChatModel``.

Tools are bound the way langchain-openai binds them — OpenAI tool dicts made
by ``convert_to_openai_tool`` — so a bound model serialises and traces like
any other; they become neutral ``ToolSpec`` objects only when a request is
built.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any, Literal, TypeAlias

from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage
from langchain_core.output_parsers import (
    JsonOutputKeyToolsParser,
    JsonOutputParser,
    PydanticOutputParser,
    PydanticToolsParser,
)
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass

from polyroute.adapter_common import response_format_from_mapping, tool_specs
from polyroute.types import NamedToolChoice, ResponseFormat, ToolChoice, ToolSpec

__all__ = [
    "StructuredMethod",
    "ToolLike",
    "bind_tool_kwargs",
    "neutral_response_format",
    "neutral_tool_choice",
    "neutral_tools",
    "openai_response_format",
    "structured_output",
]

ToolLike: TypeAlias = Mapping[str, Any] | type | Callable[..., Any] | BaseTool
StructuredMethod = Literal["function_calling", "json_schema", "json_mode"]
_FORCE = {"any": "required", "required": "required", "auto": "auto", "none": "none"}


def bind_tool_kwargs(
    tools: Sequence[ToolLike],
    *,
    tool_choice: str | bool | Mapping[str, Any] | None = None,
    strict: bool | None = None,
    parallel_tool_calls: bool | None = None,
) -> dict[str, Any]:
    """The kwargs ``bind_tools`` binds: OpenAI tool dicts plus a normalised choice."""
    formatted = [convert_to_openai_tool(t, strict=strict) for t in tools]
    names = [t["function"]["name"] for t in formatted if t.get("type") == "function"]
    out: dict[str, Any] = {"tools": formatted}
    choice = _bound_choice(tool_choice, names)
    if choice is not None:
        out["tool_choice"] = choice
    if parallel_tool_calls is not None:
        out["parallel_tool_calls"] = parallel_tool_calls
    return out


def _bound_choice(
    choice: str | bool | Mapping[str, Any] | None, names: list[str]
) -> str | dict[str, Any] | None:
    if choice is None or choice is False:
        return None
    if choice is True:
        if len(names) != 1:
            raise ValueError(
                f"tool_choice=True forces the one bound tool, but {len(names)} are bound; "
                "name the tool or use 'any'"
            )
        return _named(names[0])
    if isinstance(choice, str):
        if choice in _FORCE:
            return _FORCE[choice]
        if names and choice not in names:
            raise ValueError(f"tool_choice '{choice}' is not a bound tool ({', '.join(names)})")
        return _named(choice)
    name = _choice_name(choice)
    if name is not None:
        return _named(name)
    kind = choice.get("type")
    if isinstance(kind, str) and kind in _FORCE:
        return _FORCE[kind]
    raise ValueError(f"unrecognised tool_choice {dict(choice)!r}")


def _choice_name(choice: Mapping[str, Any]) -> str | None:
    fn = choice.get("function")
    if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
        return str(fn["name"])
    if choice.get("type") in (None, "tool", "function") and isinstance(choice.get("name"), str):
        return str(choice["name"])
    return None


def _named(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name}}


def neutral_tools(tools: Sequence[Any]) -> list[ToolSpec]:
    """Bound tools (OpenAI dicts, or anything ``convert_to_openai_tool`` takes) as ``ToolSpec``."""
    return tool_specs(tools, _openai_tool)


def _openai_tool(tool: Any) -> Mapping[str, Any]:
    if isinstance(tool, Mapping) and tool.get("type") == "function":
        return tool
    return convert_to_openai_tool(tool)


def neutral_tool_choice(choice: Any) -> ToolChoice | None:
    """A bound or per-call ``tool_choice`` as the neutral ``ToolChoice``."""
    if choice is None or isinstance(choice, NamedToolChoice):
        return choice
    bound = _bound_choice(choice, [])
    if bound is None:
        return None
    if isinstance(bound, str):
        return "required" if bound == "required" else ("none" if bound == "none" else "auto")
    return NamedToolChoice(name=bound["function"]["name"])


def neutral_response_format(value: Any) -> ResponseFormat | None:
    """``response_format`` as given to a call (OpenAI dict, schema, class) → ``ResponseFormat``."""
    if value is None or isinstance(value, ResponseFormat):
        return value
    if isinstance(value, Mapping) and (known := response_format_from_mapping(value)):
        return known
    return neutral_response_format(openai_response_format(value, strict=None))


def openai_response_format(schema: Any, *, strict: bool | None) -> dict[str, Any]:
    """``schema`` (pydantic class, TypedDict, JSON Schema) as an OpenAI ``json_schema`` format."""
    fn = convert_to_openai_tool(schema, strict=strict)["function"]
    spec: dict[str, Any] = {"name": fn["name"], "schema": fn.get("parameters")}
    if fn.get("description"):
        spec["description"] = fn["description"]
    if strict is not None:
        spec["strict"] = strict
    return {"type": "json_schema", "json_schema": spec}


def structured_output(
    model: Runnable[LanguageModelInput, AIMessage],
    bind_tools: Callable[..., Runnable[LanguageModelInput, AIMessage]],
    schema: Mapping[str, Any] | type,
    *,
    method: StructuredMethod,
    include_raw: bool,
    strict: bool | None,
) -> Runnable[LanguageModelInput, Any]:
    """``model`` made to answer in ``schema``, the way ``method`` says."""
    is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
    ls_format = {"kwargs": {"method": method, "strict": strict}, "schema": schema}
    parser: Runnable[Any, Any]
    if method == "function_calling":
        name = convert_to_openai_tool(schema)["function"]["name"]
        llm = bind_tools(
            [schema], tool_choice=name, strict=strict, parallel_tool_calls=False,
            ls_structured_output_format=ls_format,
        )
        parser = (
            PydanticToolsParser(tools=[schema], first_tool_only=True)
            if is_pydantic
            else JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
        )
    elif method in ("json_schema", "json_mode"):
        fmt = (
            openai_response_format(schema, strict=strict)
            if method == "json_schema"
            else {"type": "json_object"}
        )
        llm = model.bind(response_format=fmt, ls_structured_output_format=ls_format)
        parser = (
            PydanticOutputParser(pydantic_object=schema)
            if is_pydantic
            else JsonOutputParser()
        )
    else:
        raise ValueError(
            f"unknown method '{method}': use function_calling, json_schema or json_mode"
        )
    if not include_raw:
        return llm | parser
    parse = RunnablePassthrough.assign(
        parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
    )
    no_parse = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=llm) | parse.with_fallbacks(
        [no_parse], exception_key="parsing_error"
    )
