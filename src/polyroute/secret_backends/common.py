"""What the built-in backends share: the TTL setting and ``NAME#FIELD`` references."""

from __future__ import annotations

import json
import math
import os
from typing import Any

from polyroute.errors import MissingExtraError, MissingSecretError

__all__ = ["field_of", "split_field", "ttl", "vendor"]


def ttl(default: float) -> float:
    """Seconds a read value is reused: ``POLYROUTE_SECRET_TTL`` or ``default``."""
    raw = os.environ.get("POLYROUTE_SECRET_TTL")
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise MissingSecretError(f"POLYROUTE_SECRET_TTL={raw!r} is not a number of seconds",
                                 fix="set it to 0 or more (0: read on every request)")
    return value


def split_field(reference: str) -> tuple[str, str | None]:
    """``name#field`` -> ``(name, field)``; the last ``#`` splits (names may hold one)."""
    name, sep, field = reference.rpartition("#")
    return (name, field) if sep and name and field else (reference, None)


def field_of(document: Any, field: str | None, *, where: str) -> str:
    """One field of a secret that holds several (JSON); the whole value without a field."""
    if field is None:
        if isinstance(document, str):
            return document
        if isinstance(document, dict) and len(document) == 1:
            only = next(iter(document.values()))
            if isinstance(only, str):
                return only
        names = sorted(document) if isinstance(document, dict) else []
        raise MissingSecretError(f"{where} holds several values ({', '.join(names)})",
                                 fix=f"name one: {where}#<field>")
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            raise MissingSecretError(f"{where} is not JSON, so it has no field '{field}'",
                                     fix=f"drop '#{field}' to use the whole value") from None
    if not isinstance(document, dict) or field not in document:
        names = sorted(document) if isinstance(document, dict) else []
        raise MissingSecretError(f"{where} has no field '{field}'",
                                 fix=f"use one of: {', '.join(names) or '(none)'}")
    value = document[field]
    if not isinstance(value, str):
        raise MissingSecretError(f"{where}#{field} is not a string", fix="store the key as text")
    return value


def vendor(module: str, *, feature: str, extra: str) -> Any:
    """Import a vendor SDK on first use, naming the extra that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.split(".")[0]
        raise MissingExtraError(feature, package=package, extra=extra, module=package) from None
