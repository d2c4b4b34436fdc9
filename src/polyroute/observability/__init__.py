"""OpenTelemetry spans and metrics (``otel``), per-provider debug logs (``debug``).

``otel_guard(ctx)`` is what ``routing.builtin_guards`` calls: the OTel guard when
``observability.otel`` asks for it and ``opentelemetry-api`` imports — with ``auto``
(the default), only once the application has installed a tracer or meter provider
(the SDK) before building the router — else ``None``: a call pays nothing.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING

from polyroute.errors import ConfigError

if TYPE_CHECKING:
    from polyroute.routing.context import RouterContext
    from polyroute.routing.guards import Guard

__all__ = ["otel_available", "otel_guard"]


def otel_available() -> bool:
    """``opentelemetry-api`` is installed (checked without importing it)."""
    try:
        return (importlib.util.find_spec("opentelemetry") is not None
                and importlib.util.find_spec("opentelemetry.trace") is not None)
    except (ImportError, ValueError):
        return False


def otel_guard(ctx: RouterContext) -> Guard | None:
    setting = ctx.config.observability.otel
    if setting is False:
        return None
    if not otel_available():
        if setting is True:
            raise ConfigError(
                "observability.otel is true but opentelemetry-api is not installed",
                file=ctx.config.source, field="observability.otel",
                fix="pip install 'polyroute[otel]', or set otel: auto")
        return None
    from polyroute.observability.otel import OTelGuard, pipeline_configured

    if setting == "auto" and not pipeline_configured():
        return None  # the API alone records nothing: no guard, no per-call work
    return OTelGuard(ctx)
