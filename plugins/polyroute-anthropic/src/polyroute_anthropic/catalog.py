"""Catalog of Claude models: limits, capabilities and prices.

Sources (checked 2025-10, prices in USD per million tokens):

- Prices: https://docs.claude.com/en/docs/about-claude/pricing ("Model pricing":
  base input, 5-minute cache writes, cache hits & refreshes, output).
- Context windows, max output and model ids:
  https://docs.claude.com/en/docs/about-claude/models/overview

``cache_write`` is the 5-minute cache-write price (1.25x input); 1-hour writes
cost 2x input and are not modelled. Sonnet 4 / 4.5 have a 1M-token context
window behind the ``context-1m`` beta (with long-context prices above 200K
input tokens); the catalog lists the default 200K window.
"""

from __future__ import annotations

from polyroute.providers.models import index_models
from polyroute.types import Capability, ModelInfo, ModelPrices

__all__ = ["DEFAULT_MAX_TOKENS", "MODELS", "lookup"]

TYPE_NAME = "anthropic"

DEFAULT_MAX_TOKENS = 4096
"""``max_tokens`` sent when the request sets none and the model is not in the catalog."""

_BASE = frozenset(
    {
        Capability.TOOLS,
        Capability.PARALLEL_TOOLS,
        Capability.VISION,
        Capability.STREAMING,
        Capability.SYSTEM_PROMPT,
        Capability.PROMPT_CACHING,
        # Emulated with a forced tool call (see README): no native JSON mode.
        Capability.JSON_MODE,
        Capability.JSON_SCHEMA,
    }
)
_REASONING = _BASE | {Capability.REASONING}


def _info(
    model: str,
    *,
    aliases: tuple[str, ...],
    max_output: int,
    prices: tuple[float, float, float, float],
    reasoning: bool = True,
    context: int = 200_000,
) -> ModelInfo:
    inp, out, read, write = prices
    return ModelInfo(
        provider_type=TYPE_NAME,
        model=model,
        context_window=context,
        max_output_tokens=max_output,
        capabilities=_REASONING if reasoning else _BASE,
        prices=ModelPrices(input=inp, output=out, cache_read=read, cache_write=write),
        aliases=aliases,
    )


MODELS: tuple[ModelInfo, ...] = (
    _info(
        "claude-opus-4-1",
        aliases=("claude-opus-4-1-20250805",),
        max_output=32_000,
        prices=(15.0, 75.0, 1.50, 18.75),
    ),
    _info(
        "claude-sonnet-4-5",
        aliases=("claude-sonnet-4-5-20250929",),
        max_output=64_000,
        prices=(3.0, 15.0, 0.30, 3.75),
    ),
    _info(
        "claude-sonnet-4-0",
        aliases=("claude-sonnet-4-20250514",),
        max_output=64_000,
        prices=(3.0, 15.0, 0.30, 3.75),
    ),
    _info(
        "claude-haiku-4-5",
        aliases=("claude-haiku-4-5-20251001",),
        max_output=64_000,
        prices=(1.0, 5.0, 0.10, 1.25),
    ),
    _info(
        "claude-3-5-haiku-latest",
        aliases=("claude-3-5-haiku-20241022",),
        max_output=8_192,
        prices=(0.80, 4.0, 0.08, 1.0),
        reasoning=False,
    ),
)

_BY_ID = index_models(MODELS)


def lookup(model: str) -> ModelInfo | None:
    """The catalog entry for a model id or alias, if known."""
    return _BY_ID.get(model)
