"""Config sections for resilience: breaker, health, rate limits, streaming, strategies.

``polyroute.config.schema`` mounts them on ``PolyrouteConfig``; the guards in
``polyroute.resilience`` and ``polyroute.routing`` read them (imports point down).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "BreakerConfig",
    "CooldownConfig",
    "DeploymentLimit",
    "FailureClass",
    "HealthConfig",
    "RateLimitsConfig",
    "RetryOverride",
    "RetryableClass",
    "ScoreWeights",
    "StrategiesConfig",
    "StreamingConfig",
    "deployment_key",
]

RetryableClass = Literal["rate_limit", "server", "overloaded", "timeout", "connection"]
"""The error classes a retry policy can tune (the retryable ones)."""

FailureClass = Literal[
    "rate_limit", "quota", "server", "overloaded", "timeout", "connection",
    "invalid_response", "stream", "auth", "not_found", "bad_request", "context_window",
    "content_policy", "other",
]
"""Every error class (see ``polyroute.resilience.classes.error_class``)."""

_COUNTED: tuple[FailureClass, ...] = ("server", "overloaded", "timeout", "connection")

Algorithm = Literal["fixed_window", "sliding_window", "token_bucket"]


def deployment_key(ref: str) -> str:
    """``provider:model``/``provider/model``/``provider`` → ``provider/model``/``provider``."""
    ref = ref.strip()
    cut = min((i for i in (ref.find(":"), ref.find("/")) if i > 0), default=-1)
    return ref if cut <= 0 else f"{ref[:cut]}/{ref[cut + 1:]}"


def _keys(v: dict[str, object]) -> dict[str, object]:
    return {deployment_key(k) if isinstance(k, str) else k: x for k, x in v.items()}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RetryOverride(_Strict):
    """``retry.by_error.<class>``: what differs from the ``retry`` defaults."""

    attempts: int | None = Field(None, ge=1, le=20)
    initial_backoff: float | None = Field(None, ge=0)
    max_backoff: float | None = Field(None, ge=0)
    max_retry_after: float | None = Field(None, ge=0)


class BreakerConfig(_Strict):
    """A circuit breaker per deployment (provider/model)."""

    enabled: bool = True
    failures: int = Field(5, ge=1)
    """Consecutive counted failures that open the circuit."""
    failure_ratio: float | None = Field(0.5, gt=0, le=1)
    """…or this share of counted failures over ``window`` (``None``: off)…"""
    window: float = Field(60.0, gt=0)
    min_requests: int = Field(10, ge=1)
    """…once the window holds at least this many requests."""
    cooldown: float = Field(30.0, gt=0)
    """Seconds OPEN before HALF_OPEN; each reopening multiplies it, up to ``max_cooldown``."""
    cooldown_multiplier: float = Field(2.0, ge=1)
    max_cooldown: float = Field(600.0, gt=0)
    half_open_probes: int = Field(1, ge=1)
    """Calls let through while HALF_OPEN."""
    count: list[FailureClass] = Field(
        default_factory=lambda: list(_COUNTED)
    )
    """Which error classes count; client errors (400, 401, 404) should not."""


class HealthConfig(_Strict):
    """Passive health from traffic, optional active probes."""

    enabled: bool = True
    window: float = Field(60.0, gt=0)
    """Seconds per history bucket."""
    history: int = Field(60, ge=1, le=10_000)
    """Buckets kept (bounded history)."""
    ewma_alpha: float = Field(0.3, gt=0, le=1)
    latency_min_samples: int = Field(5, ge=1)
    """``max_latency_ms`` judges a deployment on its p95 over the current and previous
    window only once they hold this many successful calls; with fewer it is kept."""
    probe_interval: float | None = Field(None, gt=0)
    """Seconds between active probes of every configured deployment (``None``: off)."""
    probe_timeout: float = Field(10.0, gt=0)
    probe_prompt: str = "ping"


class DeploymentLimit(_Strict):
    rpm: int | None = Field(None, gt=0)
    tpm: int | None = Field(None, gt=0)
    algorithm: Algorithm | None = None
    on_limit: Literal["wait", "skip"] | None = None
    max_wait: float | None = Field(None, ge=0)


class CooldownConfig(_Strict):
    """``rate_limits.cooldown``: after repeated 429s, route around the deployment for a
    while instead of hammering it (LiteLLM's cooldown). A 429 with ``Retry-After``
    starts one of that length at once; without it, the ``after``-th consecutive 429
    starts one of ``initial`` seconds, x ``multiplier`` for each further one in a row
    (the 429 that ends a cooldown starts the next), up to ``max``. A success ends it."""

    enabled: bool = True
    after: int = Field(3, ge=1)
    """Consecutive 429s (rate_limit or quota) without Retry-After that start a cooldown."""
    initial: float = Field(5.0, gt=0, allow_inf_nan=False)
    multiplier: float = Field(2.0, ge=1, allow_inf_nan=False)
    max: float = Field(300.0, gt=0, allow_inf_nan=False)
    """Cap on every cooldown, a provider's Retry-After included."""


class RateLimitsConfig(_Strict):
    """Requests and tokens per window, per deployment. Provider ``rpm``/``tpm`` apply to
    each of its deployments; ``deployments`` (keyed ``provider/model`` or ``provider``)
    override."""

    algorithm: Algorithm = "sliding_window"
    window: float = Field(60.0, gt=0)
    """Seconds; ``rpm``/``tpm`` are scaled to it."""
    on_limit: Literal["wait", "skip"] = "wait"
    """``wait`` up to ``max_wait`` (higher ``priority`` tag first), or ``skip`` to the next."""
    max_wait: float = Field(10.0, ge=0)
    adaptive: bool = True
    """After a 429, lower the effective limit; recover linearly over ``recovery``."""
    adaptive_factor: float = Field(0.5, gt=0, lt=1)
    adaptive_floor: float = Field(0.1, gt=0, le=1)
    recovery: float = Field(120.0, gt=0)
    cooldown: CooldownConfig = Field(default_factory=CooldownConfig)
    deployments: dict[str, DeploymentLimit] = Field(default_factory=dict)

    _norm = field_validator("deployments", mode="before")(classmethod(
        lambda cls, v: _keys(v) if isinstance(v, dict) else v
    ))


class StreamingConfig(_Strict):
    on_failure: Literal["fallback", "continue", "fail"] = "fallback"
    """``fallback``: move on only before the first token (mid-stream failure raises);
    ``continue``: also mid-stream, asking the next model to continue the partial text;
    ``fail``: never fall back (retries still apply before the first token)."""
    continue_prompt: str = (
        "Your previous message was cut off. Continue it exactly where it stopped, "
        "without repeating anything."
    )


class ScoreWeights(_Strict):
    cost: float = Field(0.35, ge=0)
    latency: float = Field(0.25, ge=0)
    quality: float = Field(0.3, ge=0)
    capability: float = Field(0.1, ge=0)


class StrategiesConfig(_Strict):
    """Inputs of the strategies: weights, quality, the score's weights."""

    weights: dict[str, float] = Field(default_factory=dict)
    """``weighted``: per deployment (``provider/model``); default 1."""
    quality: dict[str, float] = Field(default_factory=dict)
    """``score``: 0..1 per deployment or per model id; default 0.5."""
    score: ScoreWeights = Field(default_factory=ScoreWeights)
    expected_output_tokens: int = Field(256, ge=0)
    """``lowest_cost``/``score``: output assumed when the call sets no ``max_tokens``."""
    latency_reference_ms: float = Field(2000.0, gt=0)

    _norm = field_validator("weights", "quality", mode="before")(classmethod(
        lambda cls, v: _keys(v) if isinstance(v, dict) else v
    ))
