"""Error responses → classified ``ProviderError``s: the pieces every plugin's ``errors.py`` repeats.

A plugin keeps what is its own (the table of its error types, the regexes that
spot a context-window overflow in its messages, where its retry hints live) and
uses these for the rest: reading an error body that may not be JSON at all,
the fallback message when the body says nothing, looking a type up in a table
with the HTTP status as the fallback, and building the error with its message
redacted. Sans-IO like the rest of ``polyroute.providers``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from polyroute.errors import ProviderError, RateLimitError, ServerError, StreamInterruptedError
from polyroute.providers.classify import error_class_for_status, parse_retry_after
from polyroute.secrets import redact

__all__ = [
    "body_snippet", "class_from_table", "error_json", "fallback_message", "provider_error",
    "retry_after_for", "with_body_snippet",
]


def error_json(body: bytes | str) -> Any:
    """The JSON of an error body, or ``None`` when it is empty, not JSON or nested too
    deeply: an error body is read for hints, and its absence must not hide the status."""
    if not body:
        return None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


def body_snippet(body: bytes, limit: int = 200, *, collapse: bool = False) -> str:
    """The first ``limit`` bytes of a body as text, stripped (``collapse``: every run of
    whitespace made one space). Not redacted: ``provider_error`` redacts the message."""
    text = body[:limit].decode("utf-8", errors="replace")
    return " ".join(text.split()) if collapse else text.strip()


def fallback_message(body: bytes, status: int | None, *, collapse: bool = False) -> str:
    """The message for an error whose body carries none: ``HTTP 502: <snippet>``,
    ``HTTP 502 with empty body``, or, for an in-band stream event (``status=None``),
    ``malformed stream error event: <snippet>``."""
    snippet = body_snippet(body, collapse=collapse)
    if status is None:
        return f"malformed stream error event: {snippet}"
    return f"HTTP {status}: {snippet}" if snippet else f"HTTP {status} with empty body"


def class_from_table(
    table: Mapping[str, type[ProviderError]], key: str | None, status: int | None,
) -> type[ProviderError]:
    """``table[key]``; else the class for the HTTP ``status``; else (an in-band stream
    error of unknown type) ``StreamInterruptedError``."""
    cls = table.get(key or "")
    if cls is not None:
        return cls
    return error_class_for_status(status) if status is not None else StreamInterruptedError


def retry_after_for(
    cls: type[ProviderError], headers: Mapping[str, str], status: int | None = 0,
    read: Callable[[Mapping[str, str]], float | None] = parse_retry_after,
) -> float | None:
    """The wait ``read`` finds in ``headers``, for the classes a caller retries (rate
    limits, server errors) of a response (``status`` not ``None``); else ``None``."""
    if status is None or not issubclass(cls, (RateLimitError, ServerError)):
        return None
    return read(headers)


def provider_error(
    cls: type[ProviderError], message: str, *, provider: str, model: str, status: int | None,
    retry_after: float | None = None, request_id: str | None = None,
    error_type: str | None = None,
) -> ProviderError:
    """``cls`` with ``message`` redacted: an error body may echo the key it was sent."""
    return cls(
        redact(message),
        provider=provider,
        model=model,
        status=status,
        retry_after=retry_after,
        request_id=request_id,
        error_type=error_type,
    )


def with_body_snippet(err: ProviderError, body: bytes, limit: int = 200) -> ProviderError:
    """``err`` with the start of an error ``body`` that was not JSON appended to its
    message (whitespace collapsed, redacted): an HTML page from a proxy says what broke."""
    if body:
        text = " ".join(body[: limit * 4].decode("utf-8", errors="replace").split())
        text = text if len(text) <= limit else text[:limit] + "…"
        err.reason = f"{err.reason} ({redact(text)})"
        err.args = (err.reason,)
    return err
