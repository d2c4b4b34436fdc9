"""Plans an embedding call: which deployments, grouped by embedding space, in order.

The unit is the *space* (``polyroute.embed_types.EmbeddingSpace``): a plan is a list
of ``SpaceTier``s, and the router fails over only inside one tier. A plan with a
second space exists only when the route says ``allow_cross_space: true``; otherwise
planning raises ``CrossSpaceError`` naming both spaces, before any provider is called.

A deployment whose provider has no embeddings endpoint is skipped with that reason:
an embedding call never goes to a chat endpoint (LiteLLM #14403).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from polyroute.config.embeddings import EmbedRouteConfig
from polyroute.config.schema import PolyrouteConfig
from polyroute.embed_types import (
    CrossSpaceError,
    EmbeddingSpace,
    EmbedLimits,
    EmbedModelSpec,
    EmbedRequest,
)
from polyroute.errors import CandidateOutcome, ConfigError
from polyroute.providers.base import Provider
from polyroute.providers.embeddings import supports_embeddings
from polyroute.refs import Deployment, parse_model_ref

__all__ = ["EmbedPlan", "SpaceTier", "batch_limits", "plan_embed", "split_batches"]


@dataclass
class SpaceTier:
    """Deployments of one space, in failover order."""

    space: EmbeddingSpace
    deployments: list[Deployment]
    limits: dict[Deployment, EmbedLimits] = field(default_factory=dict)


@dataclass
class EmbedPlan:
    route: str
    """The route name, or ``model:provider/model`` for an explicit call."""
    tiers: list[SpaceTier]
    skipped: list[CandidateOutcome]
    dimensions: int | None
    input_type: str | None
    cross_space_allowed: bool = False
    first_space: EmbeddingSpace | None = None
    """The route's own space (its first deployment's), even when none of its deployments
    is usable: an answer from any other space is a cross-space answer."""

    @property
    def description(self) -> str:
        return f"embedding route '{self.route}'"


def _source(config: PolyrouteConfig, request: EmbedRequest) -> tuple[str, EmbedRouteConfig]:
    emb = config.embeddings
    if request.model:
        refs = [request.model, *request.fallbacks]
        return f"model:{request.model}", EmbedRouteConfig(deployments=[request.model],
                                                          fallbacks=refs[1:])
    name = request.route
    field_path = "route"
    if name is None and request.agent is not None:
        name = emb.agents.get(request.agent)
        field_path = f"embeddings.agents.{request.agent}"
        if name is None:
            raise ConfigError(f"agent '{request.agent}' has no embedding route",
                              field=field_path, fix="map the agent to a route under "
                              "embeddings.agents, or pass model=/route=")
    if name is None:
        name, field_path = emb.default, "embeddings.default"
    if name is None:
        raise ConfigError("no embedding route for this call", field="embeddings.default",
                          fix="pass model='provider/model' or route=, or set embeddings.default")
    route = emb.routes.get(name)
    if route is not None:
        return name, route
    if "/" in name or ":" in name:  # a model ref where a route name may stand
        return f"model:{name}", EmbedRouteConfig(deployments=[name])
    raise ConfigError(f"unknown embedding route '{name}'", field=field_path,
                      fix=f"define embeddings.routes.{name} or use one of "
                          f"{sorted(emb.routes) or 'none defined'}")


def _space(dep: Deployment, spec: EmbedModelSpec | None, route: EmbedRouteConfig,
           dims: int | None, primary: bool) -> EmbeddingSpace:
    if primary and route.space:  # the route declares these deployments one model
        width = dims or route.space_dimensions or (spec.dimensions if spec else None)
        return EmbeddingSpace(route.space, width, route.normalized)
    if spec is not None:
        return spec.space(dims)
    return EmbeddingSpace(dep.model, dims or route.space_dimensions, route.normalized)


def plan_embed(config: PolyrouteConfig, request: EmbedRequest,
               provider: Callable[[str], Provider | None],
               readiness: Callable[[str], str | None]) -> EmbedPlan:
    """The plan for ``request``; ``ConfigError`` for an unknown route,
    ``CrossSpaceError`` for spaces mixed without ``allow_cross_space``."""
    name, route = _source(config, request)
    dims = request.dimensions or route.dimensions
    tiers: list[SpaceTier] = []
    skipped: list[CandidateOutcome] = []
    refs = [(r, True) for r in route.deployments] + [(r, False) for r in route.fallbacks]
    for ref, primary in refs:
        try:
            dep = Deployment(*parse_model_ref(ref))
        except (ValueError, ConfigError) as exc:
            raise ConfigError(f"bad model reference {ref!r} ({exc})",
                              field=f"embeddings.routes.{name}",
                              fix="write provider/model") from exc
        prov = provider(dep.provider)
        if prov is None:
            skipped.append(CandidateOutcome(dep.provider, dep.model,
                                            f"provider '{dep.provider}' is not configured",
                                            skipped=True))
            continue
        if not supports_embeddings(prov):
            skipped.append(CandidateOutcome(
                dep.provider, dep.model, f"provider type '{prov.type_name}' has no embeddings "
                "endpoint (an embedding call is never sent to a chat endpoint)", skipped=True))
            continue
        spec = prov.embed_spec(dep.model)  # type: ignore[attr-defined]
        if spec is not None and not spec.accepts(dims):
            skipped.append(CandidateOutcome(
                dep.provider, dep.model, f"does not offer {dims} dimensions (offers "
                f"{sorted(spec.dimension_options or {spec.dimensions})})", skipped=True))
            continue
        space = _space(dep, spec, route, dims, primary)
        tier = next((t for t in tiers if t.space == space), None)
        if tier is None:
            if tiers and not route.allow_cross_space:
                raise CrossSpaceError(tiers[0].space, space, where=f"embeddings route '{name}'",
                                      reason=f" ({dep.key} is in the other)")
            tier = SpaceTier(space, [])
            tiers.append(tier)
        why_not = readiness(dep.provider)
        if why_not is not None:
            skipped.append(CandidateOutcome(dep.provider, dep.model, why_not, skipped=True))
            continue
        tier.deployments.append(dep)
        tier.limits[dep] = spec.limits if spec is not None else EmbedLimits()
    return EmbedPlan(name, [t for t in tiers if t.deployments], skipped, dims,
                     request.input_type or route.input_type,
                     cross_space_allowed=route.allow_cross_space,
                     first_space=tiers[0].space if tiers else None)


def batch_limits(tier: SpaceTier) -> EmbedLimits:
    """The strictest limits of the tier's deployments: any of them may take a batch."""
    def least(values: Sequence[int | None]) -> int | None:
        known = [v for v in values if v is not None]
        return min(known) if known else None

    limits = list(tier.limits.values())
    return EmbedLimits(least([x.max_inputs for x in limits]),
                       least([x.max_tokens_per_request for x in limits]),
                       least([x.max_tokens_per_input for x in limits]))


def split_batches(tokens: Sequence[int], limits: EmbedLimits) -> list[list[int]]:
    """Indices into ``tokens`` (each text's estimated tokens) cut into batches of at most
    ``max_inputs`` texts and ``max_tokens_per_request`` tokens, in input order. A text
    over the token limit alone goes alone (the provider truncates or refuses it)."""
    batches: list[list[int]] = []
    current: list[int] = []
    used = 0
    cap_n, cap_t = limits.max_inputs, limits.max_tokens_per_request
    for i, n in enumerate(tokens):
        full = (cap_n is not None and len(current) >= cap_n) or (
            cap_t is not None and current and used + n > cap_t)
        if full:
            batches.append(current)
            current, used = [], 0
        current.append(i)
        used += n
    if current:
        batches.append(current)
    return batches
