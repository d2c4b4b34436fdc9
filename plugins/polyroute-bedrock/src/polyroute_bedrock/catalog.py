"""Catalog of Bedrock models reachable through Converse: limits, capabilities, prices.

Prices: USD per million tokens, **on-demand, us-east-1**, from
https://aws.amazon.com/bedrock/pricing/ (checked 2025-10; AWS lists them per
1,000 tokens). They change and differ by region: treat them as a default
and override in the config's ``models:`` section where it matters. Cache
prices are given where Bedrock prompt caching applies (Claude: writes 1.25x,
reads 0.1x input; Nova: reads 0.25x input, writes free).

Limits and tool/vision/streaming support: the model cards of
https://docs.aws.amazon.com/bedrock/latest/userguide/models-supported.html and
"Supported models and model features" for the Converse API
(https://docs.aws.amazon.com/bedrock/latest/userguide/conversation-inference-supported-models-features.html).
Newer models are only invocable through an inference profile: the US
geography profile id (``us.<model id>``) is listed as an alias, billed at the
same price.

JSON / schema output is emulated with a forced tool (see ``request``), so it
is listed for the families whose Converse ``toolChoice`` supports ``tool``
(Anthropic, Amazon Nova, Mistral Large).
"""

from __future__ import annotations

from polyroute.providers.models import index_models
from polyroute.types import Capability, ModelInfo, ModelPrices

__all__ = ["MODELS", "TYPE_NAME", "lookup"]

TYPE_NAME = "bedrock"

C = Capability
_TEXT = frozenset({C.STREAMING, C.SYSTEM_PROMPT})
_TOOLS = _TEXT | {C.TOOLS, C.PARALLEL_TOOLS}
_FORCED = _TOOLS | {C.JSON_MODE, C.JSON_SCHEMA}
_CLAUDE = _FORCED | {C.VISION, C.PROMPT_CACHING}


def _info(
    model: str, *, context: int, max_output: int, caps: frozenset[Capability],
    prices: tuple[float, float] | tuple[float, float, float, float], profile: bool = False,
) -> ModelInfo:
    inp, out, *cache = prices
    return ModelInfo(
        provider_type=TYPE_NAME,
        model=model,
        context_window=context,
        max_output_tokens=max_output,
        capabilities=caps,
        prices=ModelPrices(input=inp, output=out,
                           cache_read=cache[0] if cache else None,
                           cache_write=cache[1] if cache else None),
        aliases=(f"us.{model}",) if profile else (),
    )


MODELS: tuple[ModelInfo, ...] = (
    _info("anthropic.claude-sonnet-4-5-20250929-v1:0", context=200_000, max_output=64_000,
          caps=_CLAUDE | {C.REASONING}, prices=(3.0, 15.0, 0.30, 3.75), profile=True),
    _info("anthropic.claude-haiku-4-5-20251001-v1:0", context=200_000, max_output=64_000,
          caps=_CLAUDE | {C.REASONING}, prices=(1.0, 5.0, 0.10, 1.25), profile=True),
    _info("anthropic.claude-sonnet-4-20250514-v1:0", context=200_000, max_output=64_000,
          caps=_CLAUDE | {C.REASONING}, prices=(3.0, 15.0, 0.30, 3.75), profile=True),
    _info("anthropic.claude-opus-4-1-20250805-v1:0", context=200_000, max_output=32_000,
          caps=_CLAUDE | {C.REASONING}, prices=(15.0, 75.0, 1.50, 18.75), profile=True),
    _info("anthropic.claude-3-5-haiku-20241022-v1:0", context=200_000, max_output=8_192,
          caps=_FORCED, prices=(0.80, 4.0, 0.08, 1.0), profile=True),
    _info("amazon.nova-pro-v1:0", context=300_000, max_output=10_000,
          caps=_FORCED | {C.VISION, C.PROMPT_CACHING}, prices=(0.80, 3.20, 0.20, 0.0),
          profile=True),
    _info("amazon.nova-lite-v1:0", context=300_000, max_output=10_000,
          caps=_FORCED | {C.VISION, C.PROMPT_CACHING}, prices=(0.06, 0.24, 0.015, 0.0),
          profile=True),
    _info("amazon.nova-micro-v1:0", context=128_000, max_output=10_000,
          caps=_FORCED | {C.PROMPT_CACHING}, prices=(0.035, 0.14, 0.00875, 0.0),
          profile=True),
    _info("meta.llama3-3-70b-instruct-v1:0", context=128_000, max_output=8_192,
          caps=_TOOLS, prices=(0.72, 0.72), profile=True),
    _info("meta.llama3-1-8b-instruct-v1:0", context=128_000, max_output=8_192,
          caps=_TOOLS, prices=(0.22, 0.22), profile=True),
    _info("mistral.mistral-large-2407-v1:0", context=128_000, max_output=8_192,
          caps=_FORCED, prices=(2.0, 6.0)),
)

_BY_ID = index_models(MODELS)


def lookup(model: str) -> ModelInfo | None:
    """The catalog entry for a model id or its US inference profile id."""
    return _BY_ID.get(model)
