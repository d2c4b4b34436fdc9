"""Config section ``experiments:``: A/B and multi-variant tests on an agent or a route.

```yaml
experiments:
  summary_model:
    agent: support_agent          # or route: code_generation (a task route)
    key: user                     # the request tag that makes assignment sticky
    variants:
      control:   {weight: 50}                         # the agent as configured
      cheaper:   {weight: 50, model: groq:llama-3.3-70b, temperature: 0.1}
      long_ctx:  {weight: 0, route: long_context}     # weight 0: configured, not served
    mode: weighted                # or bandit: Thompson sampling on feedback
```

A variant overrides what answers: a ``model`` (with ``fallbacks``), a ``route``,
and/or sampling parameters. ``polyroute.routing.experiments`` assigns them.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from polyroute.types import GenerationParams, PortableParams

__all__ = ["ExperimentConfig", "VariantConfig"]

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_PORTABLE = set(PortableParams.model_fields)


class VariantConfig(PortableParams):
    """One arm: its share of traffic and what it changes (nothing: the control)."""

    model_config = ConfigDict(extra="forbid")

    weight: float = Field(1.0, ge=0)
    """Relative share of traffic (weights need not add up to 100)."""
    model: str | None = None
    fallbacks: list[str] = Field(default_factory=list)
    route: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    """Provider-specific parameters, passed through as they are."""

    @field_validator("weight")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("weight must be a finite number >= 0")
        return v

    @model_validator(mode="after")
    def _one_target(self) -> VariantConfig:
        if self.model and self.route:
            raise ValueError("give a variant either 'model' or 'route', not both")
        if self.fallbacks and not self.model:
            raise ValueError("'fallbacks' go with 'model'")
        return self

    def generation_params(self) -> GenerationParams:
        data = self.model_dump(exclude_none=True, include=_PORTABLE)
        if self.params:  # else unset: the router copies a call's params only when some are
            data["extra"] = dict(self.params)
        return GenerationParams(**data)


class ExperimentConfig(BaseModel):
    """An experiment on one agent or one route (a task route or the agent's route)."""

    model_config = ConfigDict(extra="forbid")

    agent: str | None = None
    route: str | None = None
    key: str = "user"
    """The routing tag whose value keeps a caller on one variant (user, session, tenant)."""
    variants: dict[str, VariantConfig]
    mode: Literal["weighted", "bandit"] = "weighted"
    """``bandit``: Thompson sampling on feedback; better-rated variants get more traffic."""
    success_score: float = Field(0.5, ge=0, le=1)
    """``bandit``: a feedback score at or above this counts as a success."""
    salt: str = ""
    """Changing it reshuffles who gets which variant (a new run of the experiment)."""
    enabled: bool = True

    @model_validator(mode="after")
    def _check(self) -> ExperimentConfig:
        if bool(self.agent) == bool(self.route):
            raise ValueError("give an experiment either 'agent' or 'route' (what it tests)")
        if len(self.variants) < 2:
            raise ValueError("an experiment needs at least two variants")
        for name in self.variants:
            if not _NAME.match(name):
                raise ValueError(f"variant name {name!r}: use 1-64 letters, digits, _ . -")
        if not any(v.weight > 0 for v in self.variants.values()):
            raise ValueError("at least one variant needs a weight > 0")
        return self
