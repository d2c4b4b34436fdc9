"""Shared checks for tests/conformance/: the providers' official SDKs as the oracle.

Two directions (issue 15):

- *our responses are theirs*: an official SDK client is pointed at a plugin's stand-in
  (``StandinServer``) and must parse every answer; ``Recording`` keeps the exact bytes
  the stand-in sent, and ``strict_model`` validates each body again with the SDK's own
  pydantic type, strictly, and fails on any field the type does not declare (the SDKs
  keep unknown fields in ``model_extra`` silently, so a misspelt field would pass a
  plain parse);
- *our requests are theirs*: the body a plugin builds is checked against the SDK's
  request ``TypedDict`` (``typed_dict_problems``: unknown keys, missing required keys,
  enum values, nesting), or compared with what the SDK itself sent for the same call
  (``server.requests``).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pydantic
import typing_extensions as tx

from polyroute.testing.standin import Reply, Responder, StandinRequest

M = typing.TypeVar("M", bound=pydantic.BaseModel)

__all__ = [
    "Recording",
    "azure_model_problems",
    "scenarios",
    "sent_differences",
    "sse_data",
    "strict_model",
    "typed_dict_problems",
    "unknown_fields",
]


@dataclasses.dataclass
class Recording:
    """A responder wrapper keeping every reply it gave (bodies and stream chunks)."""

    inner: Responder
    replies: list[Reply] = dataclasses.field(default_factory=list)

    def answer(self, request: StandinRequest) -> Reply:
        reply = self.inner.answer(request)
        self.replies.append(reply)
        return reply

    def error(self, request: StandinRequest, status: int, message: str) -> Reply:
        reply = self.inner.error(request, status, message)
        self.replies.append(reply)
        return reply

    def stream_error_event(self, request: StandinRequest, message: str) -> bytes:
        return self.inner.stream_error_event(request, message)

    @property
    def last(self) -> Reply:
        return self.replies[-1]

    def last_body(self) -> bytes:
        body = self.last.body
        assert body is not None, "the last reply was a stream"
        return body


def sse_data(reply: Reply) -> list[tuple[str | None, str]]:
    """``(event name, data)`` of each SSE event in a streamed reply, ``[DONE]`` excluded."""
    out: list[tuple[str | None, str]] = []
    text = b"".join(reply.chunks or []).decode()
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event: str | None = None
        data: list[str] = []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
        if data and data != ["[DONE]"]:
            out.append((event, "\n".join(data)))
    return out


def unknown_fields(obj: Any, raw: Any, path: str = "$") -> list[str]:
    """Paths of every key in ``raw`` (the JSON a typed ``obj`` was read from) that the
    SDK's type does not declare: kept in ``model_extra`` by SDKs that allow extras,
    silently dropped by those that ignore them."""
    found: list[str] = []
    if isinstance(obj, pydantic.BaseModel) and isinstance(raw, Mapping):
        by_key: dict[str, str] = {}
        for name, info in type(obj).model_fields.items():
            by_key[name] = name
            for alias in (info.alias, info.validation_alias, info.serialization_alias):
                if isinstance(alias, str):
                    by_key[alias] = name
        for key, value in raw.items():
            if key not in by_key:
                found.append(f"{path}.{key}")
            else:
                found += unknown_fields(getattr(obj, by_key[key], None), value, f"{path}.{key}")
    elif isinstance(obj, Mapping) and isinstance(raw, Mapping):
        for key, value in raw.items():
            found += unknown_fields(obj.get(key), value, f"{path}[{key!r}]")
    elif isinstance(obj, (list, tuple)) and isinstance(raw, list):
        for i, (item, value) in enumerate(zip(obj, raw, strict=False)):
            found += unknown_fields(item, value, f"{path}[{i}]")
    return found


def strict_model(cls: Any, raw: bytes | str | Mapping[str, Any], *, strict: bool = True,
                 documented: Iterable[str] = ()) -> Any:
    """``raw`` validated as ``cls`` (a pydantic model or a union of them; pydantic strict
    JSON mode: no coercion of wrong types, required fields present), failing on any
    field the SDK's type does not declare. ``documented``: paths the provider's API
    reference shows on the wire but the SDK's type lacks (each caller cites the page)."""
    text = raw if isinstance(raw, (bytes, str)) else json.dumps(raw)
    name = getattr(cls, "__name__", repr(cls))
    try:
        obj = pydantic.TypeAdapter(cls).validate_json(text, strict=strict)
    except pydantic.ValidationError as exc:
        raise AssertionError(f"{name} rejects the body: {exc}\n{text!r}") from None
    extra = [p for p in unknown_fields(obj, json.loads(text)) if p not in set(documented)]
    assert not extra, f"{name} does not declare {extra}"
    return obj


def sent_differences(theirs: Any, ours: Any, *, sdk_defaults: frozenset[str] = frozenset(),
                     path: str = "$") -> list[str]:
    """Where the body an SDK sent (``theirs``) differs from ours for the same call; keys
    only the SDK sent are allowed when named in ``sdk_defaults`` (defaults its models
    serialise, such as Mistral's ``prefix: false``)."""
    if isinstance(theirs, Mapping) and isinstance(ours, Mapping):
        out = [f"{path}.{k}: we send it, the SDK does not" for k in ours if k not in theirs]
        out += [f"{path}.{k}: only the SDK sends it" for k in theirs
                if k not in ours and k not in sdk_defaults]
        for k in ours:
            if k in theirs:
                out += sent_differences(theirs[k], ours[k], sdk_defaults=sdk_defaults,
                                        path=f"{path}.{k}")
        return out
    if isinstance(theirs, list) and isinstance(ours, list):
        if len(theirs) != len(ours):
            return [f"{path}: {len(ours)} items, the SDK sent {len(theirs)}"]
        return [d for i, (a, b) in enumerate(zip(theirs, ours, strict=True))
                for d in sent_differences(a, b, sdk_defaults=sdk_defaults, path=f"{path}[{i}]")]
    return [] if theirs == ours else [f"{path}: ours {ours!r}, the SDK's {theirs!r}"]


# --- request bodies against the SDKs' TypedDicts -----------------------------------------

def _strip(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    while origin in (typing.Annotated, typing.Required, typing.NotRequired) \
            or _named(origin, {"Required", "NotRequired", "Annotated", "ReadOnly"}):
        tp = typing.get_args(tp)[0]
        origin = typing.get_origin(tp)
    return tp


def _named(origin: Any, names: set[str]) -> bool:
    return getattr(origin, "__name__", None) in names or getattr(origin, "_name", None) in names


def _is_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def _required_keys(tp: Any, hints: Mapping[str, Any]) -> list[str]:
    # With postponed annotations ``__required_keys__`` can miss ``Required[...]``:
    # read the markers from the resolved hints instead.
    out = []
    for key, hint in hints.items():
        marker = getattr(typing.get_origin(hint), "_name", None) or getattr(
            typing.get_origin(hint), "__name__", None)
        if marker == "Required" or (key in getattr(tp, "__required_keys__", ())
                                    and marker != "NotRequired"):
            out.append(key)
    return out


def typed_dict_problems(tp: Any, value: Any, path: str = "$") -> list[str]:
    """Where ``value`` does not fit the annotation ``tp`` (a request ``TypedDict`` of an
    official SDK): unknown or missing keys, wrong types, values outside a ``Literal``."""
    tp = _strip(tp)
    if tp is Any or tp is object:
        return []
    if isinstance(tp, tx.TypeAliasType):
        return typed_dict_problems(tp.__value__, value, path)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        results = [typed_dict_problems(arm, value, path) for arm in typing.get_args(tp)]
        if any(not r for r in results):
            return []
        return min(results, key=len)
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        return [] if value in allowed else [f"{path}: {value!r} not one of {allowed}"]
    if tp is type(None):
        return [] if value is None else [f"{path}: expected null, got {value!r}"]
    if _is_typeddict(tp):
        if not isinstance(value, Mapping):
            return [f"{path}: expected an object ({tp.__name__}), got {value!r}"]
        hints = typing.get_type_hints(tp, include_extras=True)
        problems = [f"{path}.{k}: unknown to {tp.__name__}" for k in value if k not in hints]
        problems += [f"{path}.{k}: required by {tp.__name__}, missing"
                     for k in _required_keys(tp, hints) if k not in value]
        for key, item in value.items():
            if key in hints:
                problems += typed_dict_problems(hints[key], item, f"{path}.{key}")
        return problems
    if origin in (list, Sequence, Iterable, typing.Sequence, typing.Iterable) or _named(
            origin, {"Iterable", "Sequence", "List", "SequenceNotStr"}) or origin is list:
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {value!r}"]
        (item_tp,) = typing.get_args(tp) or (Any,)
        return [p for i, v in enumerate(value) for p in typed_dict_problems(item_tp, v,
                                                                             f"{path}[{i}]")]
    if origin in (dict, Mapping) or _named(origin, {"Dict", "Mapping"}):
        return [] if isinstance(value, Mapping) else [f"{path}: expected an object"]
    if isinstance(tp, type):
        if tp is float and isinstance(value, int) and not isinstance(value, bool):
            return []
        if tp in (int, float) and isinstance(value, bool):
            return [f"{path}: expected {tp.__name__}, got a bool"]
        if issubclass(tp, pydantic.BaseModel):
            try:
                tp.model_validate(value)
            except pydantic.ValidationError as exc:
                return [f"{path}: {exc}"]
            return []
        if getattr(tp, "__name__", "") == "SequenceNotStr":
            return [] if isinstance(value, list) else [f"{path}: expected a list"]
        return [] if isinstance(value, tp) else [
            f"{path}: expected {tp.__name__}, got {type(value).__name__} {value!r}"]
    if typing.get_origin(tp) is not None and _named(typing.get_origin(tp), {"SequenceNotStr"}):
        return [] if isinstance(value, list) else [f"{path}: expected a list"]
    return []


# --- the calls every provider module checks, as neutral requests ---------------------------

# a 1x1 transparent PNG
PNG_B64 = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJ"
           "RU5ErkJggg==")


def scenarios() -> dict[str, Any]:
    """Neutral ``ChatRequest``s for the features the suite covers, by name."""
    from polyroute.testing.chat import WEATHER
    from polyroute.types import (
        ChatRequest,
        GenerationParams,
        ImagePart,
        Message,
        NamedToolChoice,
        ResponseFormat,
        TextPart,
        ToolCallPart,
        ToolResultPart,
    )

    person = {"type": "object", "properties": {"name": {"type": "string"},
                                                "age": {"type": "integer"}},
              "required": ["name", "age"], "additionalProperties": False}
    return {
        "text": ChatRequest(messages=[Message.system("Be brief."), Message.user("Say hi")],
                            params=GenerationParams(temperature=0.2, top_p=0.9, max_tokens=64,
                                                    stop=["END"])),
        "image": ChatRequest(messages=[Message(role="user", content=[
            TextPart(text="What is in this image?"),
            ImagePart(data=PNG_B64, media_type="image/png")])]),
        "tools": ChatRequest(messages=[Message.user("Weather in 'Paris'?")], tools=[WEATHER],
                             tool_choice=NamedToolChoice(name="get_weather")),
        "tool_result": ChatRequest(messages=[
            Message.user("Weather in Paris?"),
            Message(role="assistant", content=[ToolCallPart(id="call0abcd", name="get_weather",
                                                            arguments={"city": "Paris"})]),
            Message(role="tool", content=[ToolResultPart(tool_call_id="call0abcd",
                                                         name="get_weather",
                                                         content="18C and sunny")])],
            tools=[WEATHER]),
        "json_schema": ChatRequest(messages=[Message.user("Invent a person")],
                                   response_format=ResponseFormat(type="json_schema",
                                                                  name="person",
                                                                  json_schema=person,
                                                                  strict=True)),
    }


# --- azure-core generated models (azure-ai-inference) ---------------------------------------

def azure_model_problems(cls: Any, raw: Any, path: str = "$") -> list[str]:
    """Where ``raw`` (JSON as received) does not fit an ``azure.core``-generated model
    class (``_model_base.Model``: ``rest_field`` names, non-``Optional`` fields required).
    Those models wrap any dict without checking it, so the suite checks it here."""
    tp = _strip(cls)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        arms = [a for a in typing.get_args(tp) if a is not type(None)]
        if raw is None and len(arms) < len(typing.get_args(tp)):
            return []
        results = [azure_model_problems(a, raw, path) for a in arms]
        return [] if any(not r for r in results) else min(results, key=len)
    if origin in (list, typing.List):  # noqa: UP006
        if not isinstance(raw, list):
            return [f"{path}: expected a list"]
        (item,) = typing.get_args(tp)
        return [p for i, v in enumerate(raw) for p in azure_model_problems(item, v,
                                                                            f"{path}[{i}]")]
    if origin is typing.Literal:
        return [] if raw in typing.get_args(tp) else [f"{path}: {raw!r} not in {tp}"]
    fields = getattr(tp, "_attr_to_rest_field", None)
    if isinstance(tp, type) and fields is not None:
        mapping = tp.__dict__.get("__mapping__")
        if mapping and isinstance(raw, Mapping):
            # a discriminated base (ContentItem, ChatRequestMessage): the subclass the
            # discriminator value names decides
            keys = [f._rest_name for f in fields.values() if f._is_discriminator]
            sub = next((mapping[raw[k]] for k in keys if raw.get(k) in mapping), None)
            if sub is None:
                return [f"{path}: no {tp.__name__} kind for {dict(raw)!r}"]
            return azure_model_problems(sub, raw, path)
        if not isinstance(raw, Mapping):
            return [f"{path}: expected an object ({tp.__name__})"]
        module = __import__(tp.__module__, fromlist=["_"])
        # generated modules import their sibling models only under TYPE_CHECKING
        package = __import__(tp.__module__.rsplit(".", 1)[0], fromlist=["_"])
        hints = typing.get_type_hints(tp, globalns={"_models": package, **vars(module)})
        by_rest = {f._rest_name: attr for attr, f in fields.items()}
        out = [f"{path}.{k}: not a field of {tp.__name__}" for k in raw if k not in by_rest]
        for rest, attr in by_rest.items():
            hint = hints.get(attr, Any)
            optional = typing.get_origin(hint) in (typing.Union, types.UnionType) and type(
                None) in typing.get_args(hint)
            if rest not in raw:
                if not optional:
                    out.append(f"{path}.{rest}: required by {tp.__name__}, missing")
                continue
            if raw[rest] is None:
                continue
            out += azure_model_problems(hint, raw[rest], f"{path}.{rest}")
        return out
    if tp in (str, int, float, bool):
        ok = isinstance(raw, tp) or (tp is float and isinstance(raw, int))
        return [] if ok and not (tp is int and isinstance(raw, bool)) else [
            f"{path}: expected {tp.__name__}, got {raw!r}"]
    return []


# --- botocore service-model shapes (Bedrock Converse) --------------------------------------

def shape_problems(shape: Any, value: Any, path: str = "$") -> list[str]:
    """Where ``value`` (JSON as received) does not fit the botocore ``shape``."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object ({shape.name})"]
        members = shape.members
        out = [f"{path}.{k}: not a member of {shape.name}" for k in value if k not in members]
        if getattr(shape, "is_document_type", False) or shape.metadata.get("document"):
            return []
        out += [f"{path}.{k}: required by {shape.name}, missing"
                for k in shape.required_members if k not in value]
        if shape.metadata.get("union") and len(value) != 1:
            out.append(f"{path}: a union ({shape.name}) holds exactly one member")
        for k, v in value.items():
            if k in members:
                out += shape_problems(members[k], v, f"{path}.{k}")
        return out
    if kind == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [p for i, v in enumerate(value)
                for p in shape_problems(shape.member, v, f"{path}[{i}]")]
    if kind == "map":
        return [] if isinstance(value, dict) else [f"{path}: expected a map"]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string"]
        enum = shape.enum
        return [f"{path}: {value!r} not in {shape.name} {enum}"] if enum and value not in enum \
            else []
    if kind in ("integer", "long"):
        return [] if isinstance(value, int) and not isinstance(value, bool) else [
            f"{path}: expected an integer"]
    if kind in ("float", "double"):
        return [] if isinstance(value, (int, float)) and not isinstance(value, bool) else [
            f"{path}: expected a number"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean"]
    return []  # blob, timestamp, document
