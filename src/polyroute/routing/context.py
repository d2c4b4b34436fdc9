"""``RouterContext``: what the router hands every guard and component it builds.

The router used to pass itself, so a guard could reach anything (a service
locator) and every guard module imported ``Router`` back: one import circle
across the layers. A guard now gets this object, built once per router, and can
read only what is listed here. Nothing below the router's package imports it.

Why a frozen dataclass rather than a ``Protocol``: a ``Protocol`` would accept
the ``Router`` itself (it has every one of these attributes), so the service
locator would come back unnoticed the first time someone passed ``self``. A
dataclass is a value of its own: the fields are the whole surface, they cannot
be rebound after the router built it, and a test builds one from stubs in a
line (no router, no plugins).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from polyroute.analytics.alerts import Alerts
    from polyroute.config.schema import PolyrouteConfig
    from polyroute.cost.book import PriceBook
    from polyroute.embed_types import EmbedResponse
    from polyroute.privacy.policy import PrivacyPolicy
    from polyroute.providers.base import Provider
    from polyroute.refs import Deployment
    from polyroute.resilience.health import HealthTracker
    from polyroute.routing.plan import SourcePlan
    from polyroute.state import StateStore
    from polyroute.transport import Transport
    from polyroute.types import ChatRequest, ModelInfo

__all__ = ["RouterContext"]


@dataclass(frozen=True, slots=True, repr=False)
class RouterContext:
    """What guards and components read from the router that built them.

    Fields are what is really used today; add one only when a guard needs it.
    """

    config: PolyrouteConfig
    """The validated config (each guard reads its own section)."""
    state: StateStore
    """Shared counters: budgets, breakers, rate limits, health, strategies."""
    provider: Callable[[str], Provider | None]
    """The provider instance called ``name`` (``None``: not configured, no plugin)."""
    model_info: Callable[[Deployment], ModelInfo | None]
    """The catalog entry of a deployment, config ``models:`` overrides applied."""
    prices: PriceBook
    """The one price book: every cost the router reports or a guard counts."""
    source: Callable[[ChatRequest], SourcePlan]
    """The planner's source plan for a request (its route's tiers and params),
    before any candidate is filtered. Late-bound: the planner is built after the
    guards, since it is handed their ``skip_reason``."""
    alerts: Alerts
    """The router's alert bus (log, webhook, the ``polyroute_on_alert`` hook)."""
    transport: Transport
    """The router's HTTP transport (health probes, alert webhooks)."""
    health: HealthTracker | None = None
    """Health samples (``None``: ``health.enabled`` is off)."""
    clock: Callable[[], float] = field(default=time.time)
    """Wall-clock seconds (tests inject a fake one)."""
    privacy: PrivacyPolicy | None = None
    """PII redaction (``privacy:``; ``None``: off). Read by the privacy guard (mask or
    refuse per provider) and by whatever stores content (ledger, cache), so nothing
    stored holds what a provider was not allowed to see."""

    embed: Callable[..., EmbedResponse] | None = None
    """The router's ``embed`` (late-bound: guards are built inside the router). For the
    semantic cache's ``route:NAME`` embedder: its vectors are routed, budgeted and
    recorded like any embedding call."""

    def __repr__(self) -> str:
        return f"<RouterContext source={self.config.source!r}>"
