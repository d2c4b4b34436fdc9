"""Catalog of Gemini models: limits, capabilities and prices.

Sources (checked 2025-10, prices in USD per million tokens, paid tier,
text/image/video input):

- Prices: https://ai.google.dev/gemini-api/docs/pricing ("Standard" rows:
  input price, output price *including thinking tokens*, context caching price).
- Context windows ("input token limit"), max output ("output token limit")
  and capabilities: https://ai.google.dev/gemini-api/docs/models
- Vertex AI lists the same per-token prices for these models:
  https://cloud.google.com/vertex-ai/generative-ai/pricing

Gemini 2.5 Pro charges more for prompts over 200K tokens ($2.50 in, $15 out,
$0.25 cached); the catalog lists the ≤200K price, which is what the cost
estimate before a call can know. ``cache_read`` is the context-caching price
(cache storage per hour is not modelled); there is no separate cache-write
price, so ``cache_write`` stays unset.
"""

from __future__ import annotations

from polyroute.providers.models import index_models
from polyroute.types import Capability, ModelInfo, ModelPrices

__all__ = ["MODELS", "VERTEX_MODELS", "lookup"]

_BASE = frozenset(
    {
        Capability.TOOLS,
        Capability.PARALLEL_TOOLS,
        Capability.VISION,
        Capability.JSON_MODE,
        Capability.JSON_SCHEMA,
        Capability.STREAMING,
        Capability.SYSTEM_PROMPT,
        Capability.PROMPT_CACHING,
    }
)
_THINKING = _BASE | {Capability.REASONING}

_CONTEXT = 1_048_576


def _info(
    model: str, *, max_output: int, prices: tuple[float, float, float | None],
    thinking: bool, aliases: tuple[str, ...] = (), provider_type: str = "gemini",
) -> ModelInfo:
    inp, out, cached = prices
    caps = _THINKING if thinking else _BASE
    if cached is None:
        caps = caps - {Capability.PROMPT_CACHING}
    return ModelInfo(
        provider_type=provider_type,
        model=model,
        context_window=_CONTEXT,
        max_output_tokens=max_output,
        capabilities=caps,
        prices=ModelPrices(input=inp, output=out, cache_read=cached),
        aliases=aliases,
    )


MODELS: tuple[ModelInfo, ...] = (
    _info("gemini-2.5-pro", max_output=65_536, prices=(1.25, 10.0, 0.125), thinking=True),
    _info("gemini-2.5-flash", max_output=65_536, prices=(0.30, 2.50, 0.03), thinking=True),
    _info("gemini-2.5-flash-lite", max_output=65_536, prices=(0.10, 0.40, 0.01),
          thinking=True),
    _info("gemini-2.0-flash", max_output=8_192, prices=(0.10, 0.40, 0.025), thinking=False,
          aliases=("gemini-2.0-flash-001",)),
    _info("gemini-2.0-flash-lite", max_output=8_192, prices=(0.075, 0.30, None),
          thinking=False, aliases=("gemini-2.0-flash-lite-001",)),
)

VERTEX_MODELS: tuple[ModelInfo, ...] = tuple(
    m.model_copy(update={"provider_type": "vertex_gemini"}) for m in MODELS
)

_BY_ID = index_models(MODELS)


def lookup(model: str) -> ModelInfo | None:
    """The catalog entry for a model id or alias (``models/`` prefix allowed)."""
    return _BY_ID.get(model.removeprefix("models/"))
