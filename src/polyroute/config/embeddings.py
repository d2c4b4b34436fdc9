"""The ``embeddings:`` section: embedding routes, per-agent choice, batching, the cache.

```yaml
embeddings:
  default: docs
  agents: {memory_agent: docs}
  routes:
    docs:
      deployments: [openai/text-embedding-3-small, azure/text-embedding-3-small]
      dimensions: 512
      fallbacks: [cohere/embed-v4.0]   # another space: refused unless …
      allow_cross_space: false          # … this is true
  concurrency: 4
  cache: true                           # per-text cache in the `cache:` store
```

A route's ``deployments`` must all be one embedding space (checked when the router
plans a call, with the spaces named); ``fallbacks`` may be other spaces only with
``allow_cross_space: true``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["EmbedRouteConfig", "EmbeddingsConfig"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmbedRouteConfig(_Strict):
    deployments: list[str] = Field(min_length=1)
    """``provider/model`` refs of ONE embedding space, tried in order (failover)."""
    fallbacks: list[str] = Field(default_factory=list)
    """Tried after every deployment failed: other spaces need ``allow_cross_space``."""
    allow_cross_space: bool = False
    dimensions: int | None = Field(None, ge=1, le=65536)
    space: str | None = None
    """The model identity of ``deployments`` when no plugin catalog knows it (a local
    model served twice, say): declares they are the same weights."""
    space_dimensions: int | None = Field(None, ge=1, le=65536)
    """Output dimension of an uncatalogued model (with ``space``)."""
    normalized: bool = True
    input_type: Literal["document", "query", "classification", "clustering",
                        "similarity"] | None = None


class EmbeddingsConfig(_Strict):
    routes: dict[str, EmbedRouteConfig] = Field(default_factory=dict)
    default: str | None = None
    """Route (or ``provider/model``) of a call naming neither agent, route nor model."""
    agents: dict[str, str] = Field(default_factory=dict)
    """Agent name → route name (or ``provider/model``)."""
    concurrency: int = Field(4, ge=1, le=64)
    """Sub-batches in flight at once for one call (under the rate limiter)."""
    cache: bool = False
    """Per-text cache (key: space + text + input_type) in the ``cache:`` store."""
    cache_ttl: float | None = Field(None, gt=0)
    """Seconds an embedding stays cached (``None``: ``cache.ttl``)."""
