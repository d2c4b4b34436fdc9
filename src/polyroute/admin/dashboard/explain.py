"""``polyroute route --explain`` for one route, as the dashboard shows it next to the chain.

The router is built from the registry (over the server's config file, when it
has one) exactly as a live router would see it now; only its planner runs, so
no provider is called and nothing is reserved.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import Request

from polyroute.admin import Registry, registry_config
from polyroute.admin.api.settings import settings_of
from polyroute.errors import PolyrouteError
from polyroute.secrets import redact

__all__ = ["Verdict", "explain_route"]


@dataclass
class Verdict:
    strategy: str = ""
    tried: list[str] = field(default_factory=list)
    """Usable candidates, in the order the strategy would try them."""
    skipped: list[tuple[str, str]] = field(default_factory=list)
    error: str | None = None


def explain_route(request: Request, name: str) -> Verdict:
    from polyroute.config import load_config
    from polyroute.router import Router
    from polyroute.types import ChatRequest, Message, RoutingHints

    settings = settings_of(request)
    reg: Registry = request.app.state.registry
    try:
        base = load_config(settings.config_path) if settings.config_path else None
        config = registry_config(reg, base=base)
        if name not in config.routes:
            return Verdict(error=f"route '{name}' is inactive or has no tiers: a router does "
                                 "not use it")
        with Router(config, registry=settings.plugin_registry()) as router:
            plan = router.plan(ChatRequest(messages=[Message.user("(dry run)")],
                                           routing=RoutingHints(task=name)))
    except PolyrouteError as exc:
        return Verdict(error=redact(str(exc)))
    return Verdict(
        strategy=plan.strategy,
        tried=[f"{d.provider}:{d.model}" for tier in plan.tiers for d in tier],
        skipped=[(f"{o.provider}:{o.model}", redact(str(o.reason))) for o in plan.skipped],
    )
