"""Catalog of Cohere Command models: limits, capabilities and prices.

Sources (checked 2025-10, prices in USD per million tokens):

- Prices: https://cohere.com/pricing ("Command A", "Command R+", "Command R",
  "Command R7B": input / output per 1M tokens).
- Context windows, max output tokens and capabilities:
  https://docs.cohere.com/docs/models (the "Command" table) and the per-model
  pages (https://docs.cohere.com/docs/command-a, ...).

Cohere bills ``usage.billed_units``; no cache pricing is published.
"""

from __future__ import annotations

from polyroute.providers.models import index_models
from polyroute.types import Capability, ModelInfo, ModelPrices

__all__ = ["MODELS", "lookup"]

_BASE = frozenset({
    Capability.TOOLS, Capability.PARALLEL_TOOLS, Capability.JSON_MODE, Capability.JSON_SCHEMA,
    Capability.STREAMING, Capability.SYSTEM_PROMPT,
})


def _info(model: str, *, context: int, max_output: int, prices: tuple[float, float],
          caps: frozenset[Capability] = _BASE, aliases: tuple[str, ...] = ()) -> ModelInfo:
    return ModelInfo(provider_type="cohere", model=model, context_window=context,
                     max_output_tokens=max_output, capabilities=caps,
                     prices=ModelPrices(input=prices[0], output=prices[1]), aliases=aliases)


MODELS: tuple[ModelInfo, ...] = (
    _info("command-a-03-2025", context=256_000, max_output=8_000, prices=(2.50, 10.0),
          aliases=("command-a",)),
    _info("command-a-reasoning-08-2025", context=256_000, max_output=32_000,
          prices=(2.50, 10.0), caps=_BASE | {Capability.REASONING}),
    _info("command-a-vision-07-2025", context=128_000, max_output=8_000, prices=(2.50, 10.0),
          caps=frozenset({Capability.VISION, Capability.JSON_MODE, Capability.JSON_SCHEMA,
                          Capability.STREAMING, Capability.SYSTEM_PROMPT})),
    _info("command-r-plus-08-2024", context=128_000, max_output=4_000, prices=(2.50, 10.0)),
    _info("command-r-08-2024", context=128_000, max_output=4_000, prices=(0.15, 0.60)),
    _info("command-r7b-12-2024", context=128_000, max_output=4_000, prices=(0.0375, 0.15)),
)

_BY_ID = index_models(MODELS)


def lookup(model: str) -> ModelInfo | None:
    """The catalog entry for a model id or alias, if known."""
    return _BY_ID.get(model)
