"""A deterministic example value for a JSON Schema (used by the stand-in's scripted model).

Strings ``"example"``, integers ``3``, numbers ``1.5``, booleans ``true``, enums
their first value, arrays of one item (or ``minItems``), objects with every
property; ``$ref``/``$defs``, ``anyOf``/``oneOf`` (first non-null branch),
``allOf`` (merged) and type lists are followed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["example_for_schema"]

_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "12:00:00",
    "email": "user@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "uuid": "00000000-0000-4000-8000-000000000000",
}
_MAX_DEPTH = 8


def example_for_schema(schema: Any) -> Any:
    root = schema if isinstance(schema, Mapping) else {}
    return _example(root, root, 0)


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    seen = 0
    while "$ref" in schema and seen < 16:
        ref = str(schema["$ref"])
        target: Any = root
        if ref.startswith("#"):
            for token in ref.lstrip("#").strip("/").split("/"):
                if not token:
                    continue
                token = token.replace("~1", "/").replace("~0", "~")
                target = target.get(token) if isinstance(target, Mapping) else None
        else:
            target = None
        if not isinstance(target, Mapping):
            return {}
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**target, **rest}
        seen += 1
    return schema


def _example(schema: Any, root: Mapping[str, Any], depth: int) -> Any:
    if not isinstance(schema, Mapping):
        return "example"
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            chosen = next(
                (b for b in branches if not (isinstance(b, Mapping)
                                             and _resolve(b, root).get("type") == "null")),
                branches[0],
            )
            return _example(chosen, root, depth)
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {}
        props: dict[str, Any] = {}
        required: list[Any] = []
        for part in schema["allOf"]:
            if isinstance(part, Mapping):
                part = _resolve(part, root)
                merged.update(part)
                props.update(part.get("properties") or {})
                required += list(part.get("required") or [])
        rest = {k: v for k, v in schema.items() if k != "allOf"}
        merged.update(rest)
        if props:
            merged["properties"] = props
            merged["required"] = required
        return _example(merged, root, depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        if "properties" in schema:
            kind = "object"
        elif "items" in schema:
            kind = "array"
        else:
            kind = "string"
    if kind == "string":
        return _FORMATS.get(str(schema.get("format")), "example")
    if kind == "integer":
        return int(_clamp(3, schema))
    if kind == "number":
        return float(_clamp(1.5, schema))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if kind == "array":
        if depth >= _MAX_DEPTH:
            return []
        count = max(1, int(schema.get("minItems") or 1))
        items = schema.get("items")
        if isinstance(items, list):  # tuple form
            return [_example(i, root, depth + 1) for i in items]
        return [_example(items or {}, root, depth + 1) for _ in range(count)]
    if kind == "object":
        if depth >= _MAX_DEPTH:
            return {}
        props = schema.get("properties") or {}
        return {
            str(name): _example(sub, root, depth + 1)
            for name, sub in props.items()
        }
    return "example"


def _clamp(value: float, schema: Mapping[str, Any]) -> float:
    lo = schema.get("minimum", schema.get("exclusiveMinimum"))
    hi = schema.get("maximum", schema.get("exclusiveMaximum"))
    if isinstance(lo, (int, float)) and value < lo:
        value = lo + (1 if "exclusiveMinimum" in schema and "minimum" not in schema else 0)
    if isinstance(hi, (int, float)) and value > hi:
        value = hi - (1 if "exclusiveMaximum" in schema and "maximum" not in schema else 0)
    return value
