"""A deterministic example value for a JSON Schema (used by stand-in scripted models).

Strings are ``"example"``, integers 3, numbers 1.5, booleans ``true``, enums
their first value, arrays hold one example item, objects every property (and
every required name, even one without a property schema). ``$ref`` into
``$defs``/``definitions``, ``anyOf``/``oneOf`` (first non-null branch) and
``allOf`` (merged) are followed; recursion stops at a fixed depth.
"""

from __future__ import annotations

from typing import Any

__all__ = ["example_for"]

_MAX_DEPTH = 8
_SCALARS: dict[str, Any] = {
    "string": "example",
    "integer": 3,
    "number": 1.5,
    "boolean": True,
    "null": None,
}


def example_for(schema: object, root: object = None, depth: int = 0) -> Any:
    """An instance of ``schema``; ``root`` resolves ``$ref`` (defaults to ``schema``)."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    if "$ref" in schema:
        return example_for(_resolve(schema["$ref"], root), root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            non_null = [b for b in branches if not _is_null(b)]
            return example_for((non_null or branches)[0], root, depth + 1)
    if isinstance(schema.get("allOf"), list):
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            if isinstance(part, dict) and "$ref" in part:
                part = _resolve(part["$ref"], root)
            if isinstance(part, dict):
                merged.setdefault("properties", {}).update(part.get("properties") or {})
                merged["required"] = [*merged.get("required", []), *part.get("required", [])]
                for k, v in part.items():
                    merged.setdefault(k, v)
        return example_for(merged, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, str):
        # Gemini's Schema spells types in upper case ("OBJECT", https://ai.google.dev/api/
        # caching#Type), as google-genai sends them; JSON Schema in lower case
        kind = kind.lower()
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else ("array" if "items" in schema else None)
    if kind == "object":
        props = schema.get("properties")
        props = props if isinstance(props, dict) else {}
        out = {name: example_for(sub, root, depth + 1) for name, sub in props.items()}
        for name in schema.get("required") or []:
            out.setdefault(name, "example")
        return out
    if kind == "array":
        return [example_for(schema.get("items", {"type": "string"}), root, depth + 1)]
    if isinstance(kind, str) and kind in _SCALARS:
        return _SCALARS[kind]
    return "example"


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
