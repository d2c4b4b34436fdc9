"""Status- and header-based error classification shared by provider plugins.

Plugins read their own error bodies first (a 400 may really be a context-window
overflow); these helpers cover what every HTTP API has in common.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping

from polyroute.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    OverloadedError,
    ProviderError,
    RateLimitError,
    ServerError,
)

__all__ = ["error_class_for_status", "parse_retry_after", "request_id_from_headers"]


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or ``retry-after`` (seconds or HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return _seconds(float(ms) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return _seconds(float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _seconds(value: float) -> float | None:
    # "inf"/"nan" parse as floats: a provider saying so has said nothing usable.
    return max(0.0, value) if math.isfinite(value) else None


def request_id_from_headers(headers: Mapping[str, str]) -> str | None:
    for name in ("x-request-id", "request-id", "apim-request-id", "x-amzn-requestid", "cf-ray"):
        if headers.get(name):
            return headers[name]
    return None


def error_class_for_status(status: int) -> type[ProviderError]:
    """The default class for an HTTP status when the body says nothing more precise."""
    if status in (401, 403):
        return AuthenticationError
    if status == 404:
        return NotFoundError
    if status == 429:
        return RateLimitError
    if status in (503, 529):
        return OverloadedError
    if status >= 500:
        return ServerError
    if status == 408:
        return ServerError
    return BadRequestError
