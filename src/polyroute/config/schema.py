"""The config schema: providers, routes, agents, retry and timeout defaults.

One pydantic model, loaded from YAML or TOML (see ``loader.py``). Unknown keys
are errors, so a typo never silently does nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

from polyroute.config.cost import (
    AlertsConfig,
    BudgetConfig,
    CacheConfig,
    LedgerConfig,
    PricingConfig,
    StateConfig,
)
from polyroute.config.embeddings import EmbeddingsConfig
from polyroute.config.experiments import ExperimentConfig
from polyroute.config.privacy import ObservabilityConfig, PrivacyConfig
from polyroute.config.resilience import (
    BreakerConfig,
    HealthConfig,
    RateLimitsConfig,
    RetryableClass,
    RetryOverride,
    StrategiesConfig,
    StreamingConfig,
)
from polyroute.config.rules import RuleConfig, Status, check_prompt_template, resolve_extras
from polyroute.secrets import Secret, masked_repr_args
from polyroute.types import Capability, GenerationParams, ModelPrices, PortableParams

__all__ = [
    "AgentConfig",
    "ModelOverride",
    "PolyrouteConfig",
    "ProviderConfig",
    "RetryConfig",
    "RouteConfig",
    "TimeoutConfig",
]


_PORTABLE = set(PortableParams.model_fields)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)


class ProviderConfig(_Strict):
    """One provider instance. Give ``type`` (a provider plugin) or ``template`` (a preset)."""

    type: str | None = None
    template: str | None = None
    base_url: str | None = None
    api_key: Secret | None = None
    api_version: str | None = None
    organization: str | None = None
    project: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    extra: dict[str, Any] = Field(default_factory=dict)
    rpm: int | None = Field(None, gt=0)
    """Requests per minute allowed to each of this provider's deployments (rate_limits)."""
    tpm: int | None = Field(None, gt=0)
    """Tokens per minute (prompt estimate + max_tokens, settled with actual usage)."""
    status: Status = "active"
    """``inactive``: none of its models is routed to; ``deprecated``: used, warned about."""

    def __repr_args__(self) -> Iterable[tuple[str | None, Any]]:
        return masked_repr_args(super().__repr_args__())

    @field_serializer("extra")
    def _extra_masked(self, extra: dict[str, Any]) -> dict[str, Any]:
        # a registry's aws_iam keys arrive here as Secrets: dumped masked, never in clear
        return {k: repr(v) if isinstance(v, Secret) else v for k, v in extra.items()}

    @model_validator(mode="after")
    def _type_or_template(self) -> ProviderConfig:
        if not self.type and not self.template:
            raise ValueError(
                "give 'type' (a provider plugin, e.g. openai) or 'template' (e.g. groq)"
            )
        return self


class ModelOverride(_Strict):
    """Catalog overrides for one ``provider:model``: limits, capabilities, prices."""

    context_window: int | None = None
    max_output_tokens: int | None = None
    capabilities: list[Capability] | None = None
    prices: ModelPrices | None = None
    status: Status = "active"
    """``inactive``: skipped with the reason; ``deprecated``: used, warned about once."""
    default: bool = False
    """This provider's default model (at most one per provider): ``provider:default``."""
    quality: float | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    """A 0-100 quality score that ``min_quality`` is judged against (docs/rules.md)."""


class _Params(PortableParams, _Strict):
    """Sampling parameters an agent or route applies unless the call sets them: the
    portable ones (``PortableParams``, their one definition) and ``params``."""

    params: dict[str, Any] = Field(default_factory=dict)
    """Provider-specific parameters passed through as they are."""

    def generation_params(self) -> GenerationParams:
        data = self.model_dump(exclude_none=True, include=_PORTABLE)
        if self.params:  # else unset: the router copies a call's params only when some are
            data["extra"] = dict(self.params)
        return GenerationParams(**data)


class _PolicyChain(BaseModel):
    content_policy_fallbacks: list[str] = Field(default_factory=list)
    """Models tried, in order, when a provider refuses on content-policy grounds
    (refusals never follow the ordinary fallbacks)."""


class RouteConfig(_Params, _PolicyChain):
    """A task route: tiers of ``provider:model`` candidates, tried tier by tier."""

    strategy: str = "priority"
    tiers: list[list[str]]

    @field_validator("tiers", mode="before")
    @classmethod
    def _single_items_are_tiers(cls, v: Any) -> Any:
        if isinstance(v, list):
            return [[x] if isinstance(x, str) else x for x in v]
        return v

    @field_validator("tiers")
    @classmethod
    def _not_empty(cls, v: list[list[str]]) -> list[list[str]]:
        if not v or not any(v):
            raise ValueError("a route needs at least one tier with one model")
        return v


class AgentConfig(_Params, _PolicyChain):
    """An agent: a ``model`` (with optional ``fallbacks``) or a ``route``."""

    model: str | None = None
    route: str | None = None
    fallbacks: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    system_prompt: str | None = None
    """A ``string.Template`` (``$name``) sent as the system message when the call has none."""
    prompt_vars: dict[str, str] = Field(default_factory=dict)
    """Defaults of the template's variables (a call's ``prompt_vars`` override them)."""
    param_profile: str | None = None
    """A ``param_profiles:`` name; the agent's own parameters override the profile's."""
    min_quality: float | None = Field(None, ge=0, le=100, allow_inf_nan=False)
    """Skip candidates whose quality score (``models:``) is below this or unknown."""

    @field_validator("system_prompt")
    @classmethod
    def _template_ok(cls, v: str | None) -> str | None:
        return None if v is None else check_prompt_template(v)

    @model_validator(mode="after")
    def _model_xor_route(self) -> AgentConfig:
        if self.model and self.route:
            raise ValueError("give either 'model' or 'route', not both")
        if not self.model and not self.route:
            raise ValueError("give 'model' (e.g. openai:gpt-4.1-mini) or 'route' (a routes: name)")
        if self.route and self.fallbacks:
            raise ValueError("'fallbacks' go with 'model'; a route has tiers instead")
        return self


class RetryConfig(_Strict):
    """Retries of one deployment before falling back. ``attempts`` counts the first try."""

    attempts: int = Field(3, ge=1, le=20)
    initial_backoff: float = Field(1.0, ge=0)
    max_backoff: float = Field(60.0, ge=0)
    max_retry_after: float = Field(60.0, ge=0)
    """If a provider asks to wait longer than this, fall back instead of sleeping."""
    by_error: dict[RetryableClass, RetryOverride] = Field(default_factory=dict)
    """Per error class (rate_limit, server, overloaded, timeout, connection): overrides."""


class TimeoutConfig(_Strict):
    """Seconds. ``total`` covers all attempts and fallbacks of one call."""

    connect: float = Field(10.0, gt=0)
    read: float = Field(120.0, gt=0)
    total: float | None = Field(600.0, gt=0)
    first_token: float | None = Field(None, gt=0)
    chunk: float | None = Field(None, gt=0)
    """Streams: longest gap between two chunks (a stall past it is a failure)."""


class PolyrouteConfig(_Strict):
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[str, ModelOverride] = Field(default_factory=dict)
    routes: dict[str, RouteConfig] = Field(default_factory=dict)
    agents: dict[str, AgentConfig] = Field(default_factory=dict)
    default: str | None = None
    content_policy_fallbacks: list[str] = Field(default_factory=list)
    """The content-policy chain for calls whose agent and route name none."""
    """What a call with no agent, task or model uses: a route name or a model."""
    retry: RetryConfig = Field(default_factory=RetryConfig)
    timeouts: TimeoutConfig = Field(default_factory=TimeoutConfig)
    breaker: BreakerConfig = Field(default_factory=BreakerConfig)
    health: HealthConfig = Field(default_factory=HealthConfig)
    rate_limits: RateLimitsConfig = Field(default_factory=RateLimitsConfig)
    streaming: StreamingConfig = Field(default_factory=StreamingConfig)
    strategies: StrategiesConfig = Field(default_factory=StrategiesConfig)
    params_policy: Literal["drop", "warn", "refuse"] = "warn"
    """A sampling parameter a provider cannot take: ``drop`` it silently, ``warn`` (drop
    it and log a warning) or ``refuse`` (skip that candidate, with the reason)."""
    pricing: PricingConfig = Field(default_factory=PricingConfig)
    budgets: list[BudgetConfig] = Field(default_factory=list)
    ledger: LedgerConfig | None = None
    """The usage ledger (SQLite); off unless present (``ledger: {}`` for the defaults)."""
    cache: CacheConfig | None = None
    """The response cache (diskcache); off unless present (``cache: {ttl: 1h}``)."""
    embeddings: EmbeddingsConfig = Field(default_factory=EmbeddingsConfig)
    """Embedding routes (``Router.embed``): see ``polyroute.config.embeddings``."""
    state: StateConfig = Field(default_factory=StateConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    privacy: PrivacyConfig | None = None
    """PII redaction (docs/privacy.md); off unless present (``privacy: {}``)."""
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    debug: list[str] = Field(default_factory=list)
    """Providers whose request/response metadata is logged (``POLYROUTE_DEBUG`` adds more)."""
    experiments: dict[str, ExperimentConfig] = Field(default_factory=dict)
    """A/B and multi-variant experiments on agents or routes (docs/experiments.md)."""
    profiles: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Overlays merged over the rest when that profile is active."""
    rules: list[RuleConfig] = Field(default_factory=list)
    """Conditional routing rules, tried in order; the first that matches decides."""
    param_profiles: dict[str, _Params] = Field(default_factory=dict)
    """Named parameter sets an agent takes with ``param_profile:``."""
    complexity_classifier: str = "builtin"
    """What scores a request's ``complexity`` (0..1) for rules: ``builtin`` (a cheap
    heuristic) or ``module:function`` taking a ``ChatRequest`` and returning a float."""
    default_models: dict[str, str] = Field(default_factory=dict, exclude=True)
    """Per provider, the model marked ``default: true`` (computed)."""
    env_overrides: dict[str, str] = Field(default_factory=dict, exclude=True)
    """Per agent, the ``POLYROUTE_AGENT_<AGENT>_MODEL=...`` that set its model."""

    @model_validator(mode="after")
    def _routing_extras(self) -> PolyrouteConfig:
        return resolve_extras(self)

    source: str | None = Field(None, exclude=True)
    """The file this config came from (for error messages)."""

    @classmethod
    def load(cls, path: str, profile: str | None = None) -> PolyrouteConfig:
        from polyroute.config.loader import load_config

        return load_config(path, profile=profile)
