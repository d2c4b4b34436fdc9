"""Catalog of the Meta Llama API's models.

Sources (checked 2026-12-04): the model ids of the Llama API documentation
(https://llama.developer.meta.com/docs/models) as its examples and the official
``llama-api-client`` README use them. Meta publishes no per-token prices for the Llama
API (it is offered as a preview), so no price is set: the ledger records tokens, and a
cost only when a config sets ``prices``. No context window is published per model id
either, so none is claimed.
"""

from __future__ import annotations

from polyroute.providers.models import index_models
from polyroute.types import Capability, ModelInfo

__all__ = ["MODELS", "lookup"]

_TEXT = frozenset({
    Capability.TOOLS, Capability.JSON_SCHEMA, Capability.STREAMING, Capability.SYSTEM_PROMPT,
})
_VISION = _TEXT | {Capability.VISION}


def _info(model: str, caps: frozenset[Capability]) -> ModelInfo:
    return ModelInfo(provider_type="llama", model=model, capabilities=caps)


MODELS: tuple[ModelInfo, ...] = (
    _info("Llama-4-Maverick-17B-128E-Instruct-FP8", _VISION),
    _info("Llama-4-Scout-17B-16E-Instruct-FP8", _VISION),
    _info("Llama-3.3-70B-Instruct", _TEXT),
    _info("Llama-3.3-8B-Instruct", _TEXT),
)

lookup = index_models(MODELS)
