"""JSON Schema → the Gemini API ``Schema`` object (an OpenAPI 3.0 subset).

Reference: https://ai.google.dev/api/caching#Schema — the fields a ``Schema``
may hold (``type``, ``format``, ``description``, ``nullable``, ``enum``,
``properties``, ``required``, ``items``, ``anyOf``, ``minItems``, ...). Function
declarations' ``parameters`` and ``generationConfig.responseSchema`` are such
objects, and the API answers 400 ``INVALID_ARGUMENT`` for keywords it does not
know (``additionalProperties``, ``$ref``, ``$defs``, ``const``...).

So a JSON Schema (as pydantic or LangChain write it) is rewritten:

- ``$ref`` into ``$defs``/``definitions`` is inlined (recursion stops at a
  fixed depth with a bare ``{"type": "object"}``);
- ``type: [X, "null"]`` and a ``{"type": "null"}`` branch of ``anyOf``/``oneOf``
  become ``nullable: true``; ``oneOf`` is read as ``anyOf``; ``allOf`` merges;
- ``const`` becomes a one-value ``enum``; enums of non-strings are dropped
  (Gemini enums are string-only) and leave only their values' type;
- ``format`` is kept only where Gemini accepts it (``enum``/``date-time`` on
  strings, ``float``/``double``/``int32``/``int64`` on numbers);
- ``required`` names without a property are dropped; every other unknown
  keyword is dropped.

With ``extra: {schema_field: responseJsonSchema}`` the provider sends the
schema untouched in ``responseJsonSchema`` instead (Gemini 2.5 and later).
"""

from __future__ import annotations

from typing import Any

__all__ = ["to_gemini_schema"]

_MAX_DEPTH = 8
_KEEP = (
    "title", "description", "minItems", "maxItems", "minLength", "maxLength", "pattern",
    "minimum", "maximum", "minProperties", "maxProperties", "default", "example",
    "propertyOrdering",
)
_FORMATS = {
    "string": {"enum", "date-time"},
    "number": {"float", "double"},
    "integer": {"int32", "int64"},
}


def to_gemini_schema(schema: object, root: object = None, depth: int = 0) -> dict[str, Any]:
    """A Gemini ``Schema`` for the JSON Schema ``schema`` (``root`` resolves ``$ref``)."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return {"type": "object"}
    if "$ref" in schema:
        target = _resolve(schema["$ref"], root)
        merged = {**(target if isinstance(target, dict) else {}),
                  **{k: v for k, v in schema.items() if k != "$ref"}}
        return to_gemini_schema(merged, root, depth + 1)
    if isinstance(schema.get("allOf"), list):
        return to_gemini_schema(_merge_all_of(schema, root), root, depth + 1)

    out: dict[str, Any] = {}
    nullable = bool(schema.get("nullable"))
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if not isinstance(branches, list):
            continue
        kept = [b for b in branches if not _is_null(b)]
        nullable = nullable or len(kept) < len(branches)
        converted = [to_gemini_schema(b, root, depth + 1) for b in kept]
        if len(converted) == 1:
            out.update(converted[0])
        elif converted:
            out["anyOf"] = converted

    kind = schema.get("type")
    if isinstance(kind, list):
        types = [t for t in kind if t != "null"]
        nullable = nullable or len(types) < len(kind)
        if len(types) == 1:
            kind = types[0]
        else:
            out["anyOf"] = [{"type": t} for t in types]
            kind = None
    if kind is None and "anyOf" not in out and "type" not in out:
        if "properties" in schema:
            kind = "object"
        elif "items" in schema:
            kind = "array"
    if isinstance(kind, str) and kind != "null":
        out["type"] = kind
    elif kind == "null":
        nullable = True

    if "const" in schema and isinstance(schema["const"], str):
        out["enum"] = [schema["const"]]
        out.setdefault("type", "string")
    enum = schema.get("enum")
    if isinstance(enum, list) and enum and all(isinstance(v, str) for v in enum):
        out["enum"] = list(enum)
    elif isinstance(enum, list) and enum and "type" not in out and "anyOf" not in out:
        out["type"] = _type_of(enum)  # a non-string enum keeps its values' type only

    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt in _FORMATS.get(str(out.get("type")), set()):
        out["format"] = fmt

    props = schema.get("properties")
    if isinstance(props, dict):
        out["properties"] = {
            str(name): to_gemini_schema(sub, root, depth + 1) for name, sub in props.items()
        }
        required = [r for r in schema.get("required") or [] if r in props]
        if required:
            out["required"] = required
    if "items" in schema:
        out["items"] = to_gemini_schema(schema["items"], root, depth + 1)

    for key in _KEEP:
        if key in schema:
            out[key] = schema[key]
    if nullable:
        out["nullable"] = True
    return out


def _type_of(values: list[Any]) -> str:
    if all(isinstance(v, bool) for v in values):
        return "boolean"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "integer"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return "number"
    return "string"


def _merge_all_of(schema: dict[str, Any], root: object) -> dict[str, Any]:
    merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
    for part in schema["allOf"]:
        if isinstance(part, dict) and "$ref" in part:
            part = _resolve(part["$ref"], root)
        if not isinstance(part, dict):
            continue
        props = part.get("properties")
        if isinstance(props, dict):
            merged.setdefault("properties", {}).update(props)
        merged["required"] = [*merged.get("required", []), *part.get("required", [])]
        for key, value in part.items():
            merged.setdefault(key, value)
    return merged


def _is_null(branch: object) -> bool:
    return isinstance(branch, dict) and branch.get("type") == "null"


def _resolve(ref: object, root: object) -> object:
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return None
    node: object = root
    for token in ref[2:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or token not in node:
            return None
        node = node[token]
    return node
