"""Catalog of Mistral models: limits, capabilities and prices.

Sources (checked 2025-10, prices in USD per million tokens):

- Prices: https://mistral.ai/pricing#api-pricing ("La Plateforme" per-model
  input / output prices).
- Context windows, ids and capabilities: https://docs.mistral.ai/getting-started/models/
  (the ``-latest`` aliases; dated ids such as ``mistral-large-2411`` are aliases).

Mistral publishes no separate maximum output: a completion may use whatever
the context window leaves, so ``max_output_tokens`` is the context window.
No cache pricing is published, so the cache prices stay unset.
"""

from __future__ import annotations

from polyroute.providers.models import index_models
from polyroute.types import Capability, ModelInfo, ModelPrices

__all__ = ["MODELS", "lookup"]

_TEXT = frozenset({
    Capability.TOOLS, Capability.PARALLEL_TOOLS, Capability.JSON_MODE, Capability.JSON_SCHEMA,
    Capability.STREAMING, Capability.SYSTEM_PROMPT,
})
_VISION = _TEXT | {Capability.VISION}
_REASONING = _TEXT | {Capability.REASONING}


def _info(model: str, *, context: int, prices: tuple[float, float],
          caps: frozenset[Capability], aliases: tuple[str, ...] = ()) -> ModelInfo:
    return ModelInfo(
        provider_type="mistral", model=model, context_window=context,
        max_output_tokens=context, capabilities=caps,
        prices=ModelPrices(input=prices[0], output=prices[1]), aliases=aliases,
    )


MODELS: tuple[ModelInfo, ...] = (
    _info("mistral-large-latest", context=131_072, prices=(2.0, 6.0), caps=_TEXT,
          aliases=("mistral-large-2411",)),
    _info("mistral-medium-latest", context=131_072, prices=(0.4, 2.0), caps=_VISION,
          aliases=("mistral-medium-2508", "mistral-medium-2505")),
    _info("mistral-small-latest", context=131_072, prices=(0.1, 0.3), caps=_VISION,
          aliases=("mistral-small-2506",)),
    _info("codestral-latest", context=262_144, prices=(0.3, 0.9), caps=_TEXT,
          aliases=("codestral-2508",)),
    _info("ministral-8b-latest", context=131_072, prices=(0.1, 0.1), caps=_TEXT,
          aliases=("ministral-8b-2410",)),
    _info("ministral-3b-latest", context=131_072, prices=(0.04, 0.04), caps=_TEXT,
          aliases=("ministral-3b-2410",)),
    _info("pixtral-large-latest", context=131_072, prices=(2.0, 6.0), caps=_VISION,
          aliases=("pixtral-large-2411",)),
    _info("magistral-medium-latest", context=40_960, prices=(2.0, 5.0), caps=_REASONING,
          aliases=("magistral-medium-2507",)),
    _info("magistral-small-latest", context=40_960, prices=(0.5, 1.5), caps=_REASONING,
          aliases=("magistral-small-2507",)),
    _info("open-mistral-nemo", context=131_072, prices=(0.15, 0.15), caps=_TEXT,
          aliases=("open-mistral-nemo-2407",)),
)

_BY_ID = index_models(MODELS)


def lookup(model: str) -> ModelInfo | None:
    """The catalog entry for a model id or alias, if known."""
    return _BY_ID.get(model)
