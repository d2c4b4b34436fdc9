"""What the LangChain and LlamaIndex adapters share, free of either framework.

- ``require_framework``: the import guard of ``polyroute.langchain`` and
  ``polyroute.llamaindex`` (a missing framework is a ``MissingExtraError`` naming
  the extra to install, not a bare ``ModuleNotFoundError``);
- message helpers both conversions use: ``UnsupportedContentError``,
  ``image_from_url``, ``compact`` (plain text stays a plain string), ``signed`` and
  ``signatures_kwargs`` (tool-call signatures kept in a message's ``additional_kwargs``);
- tool helpers: ``tool_specs``/``tool_spec`` (OpenAI tool dicts as ``ToolSpec``) and
  ``response_format_from_mapping``;
- ``build_request``: a ``ChatRequest`` from an adapter's fields (``AdapterFields``:
  routing settings and the portable parameters, ``polyroute.types.PortableParams``)
  and one call's keyword arguments, which override them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from polyroute.adapter_router import provider_of
from polyroute.errors import MissingExtraError
from polyroute.params import PARAMS
from polyroute.types import (
    SIGNATURES_KEY,
    ChatRequest,
    GenerationParams,
    ImagePart,
    Message,
    Part,
    ResponseFormat,
    RoutingHints,
    TextPart,
    ToolCallPart,
    ToolChoice,
    ToolSpec,
    signatures_kwargs,
)

__all__ = [
    "AdapterFields",
    "UnsupportedContentError",
    "build_request",
    "compact",
    "image_from_url",
    "require_framework",
    "response_format_from_mapping",
    "routed_model",
    "signatures_kwargs",
    "signed",
    "tool_spec",
    "tool_specs",
]

_ROUTING = ("capabilities", "max_cost_usd", "max_latency_ms", "cache", "min_quality",
            "prompt_vars")
# call kwargs that are the framework's business, never the provider's
_CONTROL = ("stream", "model", "model_name", "tools", "tool_choice", "parallel_tool_calls",
            "response_format", "agent", "task", "fallbacks", "routing_tags", "stop")


_FRAMEWORKS = {  # adapter -> (the module it needs, its distribution, polyroute's extra)
    "polyroute.langchain": ("langchain_core", "langchain-core", "langchain"),
    "polyroute.llamaindex": ("llama_index.core", "llama-index-core", "llamaindex"),
}


def require_framework(adapter: str) -> None:
    """Import the framework ``adapter`` wraps, or raise ``MissingExtraError`` saying which
    distribution to install through which of polyroute's extras."""
    module, package, extra = _FRAMEWORKS[adapter]
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(adapter, package=package, extra=extra,
                                module=exc.name or module) from None


# --- messages -----------------------------------------------------------------------------


class UnsupportedContentError(ValueError):
    """A message, block or role polyroute's neutral message types cannot carry."""


def image_from_url(url: str, *, detail: Any = None, media_type: str | None = None) -> ImagePart:
    """An image given by URL; a ``data:`` URL becomes inline base64 data."""
    detail = detail if detail in ("auto", "low", "high") else None
    if url.startswith("data:") and ";base64," in url:
        head, data = url[5:].split(";base64,", 1)
        return ImagePart(data=data, media_type=head or media_type, detail=detail)
    return ImagePart(url=url, media_type=media_type, detail=detail)


def compact(parts: Sequence[Part]) -> str | list[Part]:
    """``parts`` as message content: only text is a plain string (the most portable shape)."""
    if all(isinstance(p, TextPart) for p in parts):
        return "".join(p.text for p in parts if isinstance(p, TextPart))
    return list(parts)


def signed(calls: Iterable[ToolCallPart], kwargs: Mapping[str, Any]) -> list[ToolCallPart]:
    """``calls`` with the signatures a framework message keeps under ``SIGNATURES_KEY``."""
    signatures = kwargs.get(SIGNATURES_KEY)
    if not isinstance(signatures, Mapping) or not signatures:
        return list(calls)
    return [c.model_copy(update={"signature": signatures[c.id]}) if signatures.get(c.id) else c
            for c in calls]


# --- tools and formats ----------------------------------------------------------------------


def tool_spec(tool: Mapping[str, Any]) -> ToolSpec:
    """An OpenAI tool dict (``{"type": "function", "function": {...}}``, or the function
    itself) as a ``ToolSpec``."""
    fn = tool.get("function", tool)
    return ToolSpec(
        name=str(fn["name"]), description=fn.get("description") or "",
        parameters=fn.get("parameters") or {"type": "object", "properties": {}},
        strict=fn.get("strict"),
    )


def tool_specs(tools: Iterable[Any], as_openai: Callable[[Any], Mapping[str, Any]]
               ) -> list[ToolSpec]:
    """``tools`` as ``ToolSpec``: each one already a ``ToolSpec`` kept, any other made an
    OpenAI tool dict by the framework's ``as_openai`` first."""
    return [t if isinstance(t, ToolSpec) else tool_spec(as_openai(t)) for t in tools]


def response_format_from_mapping(value: Mapping[str, Any]) -> ResponseFormat | None:
    """An OpenAI ``response_format`` dict as a ``ResponseFormat`` (``None`` if unknown)."""
    kind = value.get("type")
    if kind in ("json_object", "text"):
        return ResponseFormat(type=kind)
    if kind == "json_schema":
        spec = value.get("json_schema") or {}
        return ResponseFormat(type="json_schema", name=spec.get("name"),
                              json_schema=spec.get("schema"), strict=spec.get("strict"))
    return None


# --- requests -------------------------------------------------------------------------------


class AdapterFields(Protocol):
    """The fields of an adapter a request is built from (``RoutedChatModel``, ``RoutedLLM``),
    besides the portable parameters, read by name from ``PARAMS``."""

    model: str | None
    fallbacks: list[str]
    agent: str | None
    task: str | None
    routing_tags: dict[str, str]
    max_cost_usd: float | None
    max_latency_ms: float | None


def routed_model(model: str | None, override: Any) -> str | None:
    """The model a call routes to: ``override`` if given (a bare model id keeps the
    provider of ``model``), else ``model``."""
    if not isinstance(override, str) or not override:
        return model
    if provider_of(override) is None and (provider := provider_of(model)):
        return f"{provider}:{override}"
    return override


def _defaults(fields: AdapterFields, extra: Mapping[str, Any]) -> GenerationParams:
    values = {name: getattr(fields, name) for name in PARAMS}
    return GenerationParams(**{k: v for k, v in values.items() if v is not None and v != []},
                            extra=dict(extra))


def build_request(
    fields: AdapterFields,
    messages: list[Message],
    kwargs: Mapping[str, Any],
    *,
    extra: Mapping[str, Any],
    tools: Callable[[Sequence[Any]], list[ToolSpec]],
    tool_choice: Callable[[Any], ToolChoice | None],
    response_format: Callable[[Any], ResponseFormat | None],
    stop: list[str] | None = None,
    ignore: Sequence[str] = (),
) -> ChatRequest:
    """The request for one call: ``fields``' settings and parameters (``extra``: the
    adapter's pass-through parameters), overridden by the call's ``kwargs``.

    The portable parameters and routing settings among ``kwargs`` are taken as such;
    ``ignore`` names framework arguments to drop; the rest pass through to the provider
    (``GenerationParams.extra``). ``tools``, ``tool_choice`` and ``response_format``
    convert the framework's shapes.
    """
    kw = {k: v for k, v in kwargs.items() if k not in ignore}
    control = {k: kw.pop(k) for k in _CONTROL if k in kw}
    override = control.get("model") or control.get("model_name")
    routing = RoutingHints(
        agent=control.get("agent", fields.agent), task=control.get("task", fields.task),
        model=routed_model(fields.model, override),
        fallbacks=list(control.get("fallbacks", fields.fallbacks)),
        tags={**fields.routing_tags, **control.get("routing_tags", {})},
        **{k: kw.pop(k) for k in _ROUTING if k in kw},
    )
    if routing.max_cost_usd is None and fields.max_cost_usd is not None:
        routing.max_cost_usd = fields.max_cost_usd
    if routing.max_latency_ms is None and fields.max_latency_ms is not None:
        routing.max_latency_ms = fields.max_latency_ms
    call = GenerationParams(
        stop=stop or control.get("stop") or None,
        **{k: kw.pop(k) for k in PARAMS if k in kw and k != "stop"},
        extra=kw,
    )
    specs = tools(control.get("tools") or [])
    return ChatRequest(
        messages=messages,
        params=call.merged_over(_defaults(fields, extra)),
        tools=specs,
        tool_choice=tool_choice(control.get("tool_choice")) if specs else None,
        parallel_tool_calls=control.get("parallel_tool_calls") if specs else None,
        response_format=response_format(control.get("response_format")),
        routing=routing,
    )
