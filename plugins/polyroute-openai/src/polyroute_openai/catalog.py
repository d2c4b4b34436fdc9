"""Catalog entries for current OpenAI models.

Sources (standard tier, USD per 1M tokens; checked 2025-10):
- https://platform.openai.com/docs/pricing
- https://platform.openai.com/docs/models/<model> (context window, max output)
  e.g. developers.openai.com/api/docs/models/gpt-5-codex lists GPT-5 at
  $1.25 input / $0.125 cached input / $10.00 output, 400,000 context, 128,000 output.
Prices change: override them in the polyroute config rather than editing here.
"""

from __future__ import annotations

from polyroute.types import Capability as C
from polyroute.types import ModelInfo, ModelPrices

__all__ = ["openai_models"]

_CHAT = frozenset(
    {C.TOOLS, C.PARALLEL_TOOLS, C.VISION, C.JSON_MODE, C.JSON_SCHEMA, C.STREAMING,
     C.SYSTEM_PROMPT, C.PROMPT_CACHING}
)
_REASONING = (_CHAT - {C.PARALLEL_TOOLS}) | {C.REASONING}
_GPT5 = _CHAT | {C.REASONING}

# model, context window, max output, capabilities, (input, cached input, output), aliases
_Row = tuple[str, int, int, frozenset[C], tuple[float, float, float], tuple[str, ...]]
_TABLE: tuple[_Row, ...] = (
    ("gpt-4.1", 1_047_576, 32_768, _CHAT, (2.00, 0.50, 8.00), ("gpt-4.1-2025-04-14",)),
    ("gpt-4.1-mini", 1_047_576, 32_768, _CHAT, (0.40, 0.10, 1.60), ("gpt-4.1-mini-2025-04-14",)),
    ("gpt-4.1-nano", 1_047_576, 32_768, _CHAT, (0.10, 0.025, 0.40), ("gpt-4.1-nano-2025-04-14",)),
    ("gpt-4o", 128_000, 16_384, _CHAT, (2.50, 1.25, 10.00), ("gpt-4o-2024-08-06",)),
    ("gpt-4o-mini", 128_000, 16_384, _CHAT, (0.15, 0.075, 0.60), ("gpt-4o-mini-2024-07-18",)),
    ("o3", 200_000, 100_000, _REASONING, (2.00, 0.50, 8.00), ("o3-2025-04-16",)),
    ("o4-mini", 200_000, 100_000, _REASONING, (1.10, 0.275, 4.40), ("o4-mini-2025-04-16",)),
    ("gpt-5", 400_000, 128_000, _GPT5, (1.25, 0.125, 10.00), ("gpt-5-2025-08-07",)),
    ("gpt-5-mini", 400_000, 128_000, _GPT5, (0.25, 0.025, 2.00), ("gpt-5-mini-2025-08-07",)),
    ("gpt-5-nano", 400_000, 128_000, _GPT5, (0.05, 0.005, 0.40), ("gpt-5-nano-2025-08-07",)),
)


def openai_models(provider_type: str = "openai") -> list[ModelInfo]:
    return [
        ModelInfo(
            provider_type=provider_type,
            model=model,
            context_window=ctx,
            max_output_tokens=out,
            capabilities=caps,
            prices=ModelPrices(input=p_in, cache_read=p_cached, output=p_out),
            aliases=aliases,
        )
        for model, ctx, out, caps, (p_in, p_cached, p_out), aliases in _TABLE
    ]
