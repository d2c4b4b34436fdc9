"""A catalog of common Ollama library models: context window and capabilities.

Sources (checked 2025-10): the model pages of https://ollama.com/library
(``llama3.2``, ``llama3.1``, ``llama3.2-vision``, ``qwen3``, ``qwen2.5``,
``mistral``, ``gemma3``, ``llava``, ``deepseek-r1``, ``gpt-oss``, ``phi4``) for
the context length and the "tools" / "vision" / "thinking" tags; the default
tag of each (e.g. ``qwen3`` → 8B) is what is listed.

**Prices are 0**: a local Ollama server has no per-token charge (your own
hardware pays). Set ``models:`` overrides in the config if you want routing
by cost to account for it differently.

**Context window**: the number listed is what the model was trained for. The
server only uses ``num_ctx`` tokens of it (4096 by default in current
releases; older ones used 2048) and silently truncates the prompt beyond
that. Set ``extra.options.num_ctx`` on the provider: ``OllamaProvider.models()``
then reports ``min(trained, num_ctx)``, so capability-aware routing sees the
window the server really has.

``format`` (``json`` or a JSON schema) is enforced by the server's grammar
sampler for every model, so every entry has JSON mode and schema output.
"""

from __future__ import annotations

from polyroute.providers.models import index_models
from polyroute.types import Capability, ModelInfo, ModelPrices

__all__ = ["MODELS", "TYPE_NAME", "lookup", "with_num_ctx"]

TYPE_NAME = "ollama"

_BASE = frozenset(
    {Capability.STREAMING, Capability.SYSTEM_PROMPT, Capability.JSON_MODE, Capability.JSON_SCHEMA}
)
_FREE = ModelPrices(input=0.0, output=0.0)


def _info(
    model: str, context: int, *, tools: bool = False, vision: bool = False,
    thinking: bool = False,
) -> ModelInfo:
    caps = set(_BASE)
    if tools:
        caps |= {Capability.TOOLS, Capability.PARALLEL_TOOLS}
    if vision:
        caps.add(Capability.VISION)
    if thinking:
        caps.add(Capability.REASONING)
    return ModelInfo(
        provider_type=TYPE_NAME,
        model=model,
        context_window=context,
        max_output_tokens=None,  # num_predict defaults to "until the context is full"
        capabilities=frozenset(caps),
        prices=_FREE,
        aliases=(f"{model}:latest",),
    )


MODELS: tuple[ModelInfo, ...] = (
    _info("llama3.2", 131_072, tools=True),
    _info("llama3.1", 131_072, tools=True),
    _info("llama3.2-vision", 131_072, vision=True),
    _info("qwen3", 40_960, tools=True, thinking=True),
    _info("qwen2.5", 32_768, tools=True),
    _info("mistral", 32_768, tools=True),
    _info("gemma3", 131_072, vision=True),
    _info("llava", 4_096, vision=True),
    _info("deepseek-r1", 131_072, thinking=True),
    _info("gpt-oss", 131_072, tools=True, thinking=True),
    _info("phi4", 16_384),
)

_BY_ID = index_models(MODELS)


def lookup(model: str) -> ModelInfo | None:
    """The catalog entry for ``model`` or ``model:latest``."""
    return _BY_ID.get(model)


def with_num_ctx(num_ctx: int | None) -> list[ModelInfo]:
    """The catalog with each context window capped at the server's ``num_ctx``."""
    if not num_ctx or num_ctx <= 0:
        return list(MODELS)
    return [
        m.model_copy(update={"context_window": min(m.context_window or num_ctx, num_ctx)})
        for m in MODELS
    ]
