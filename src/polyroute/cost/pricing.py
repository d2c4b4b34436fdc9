"""What a call costs, from its usage and the model's prices (USD per million tokens).

Token classes and how each is charged:

- ``input_tokens`` is the whole prompt. Its cached-read part is charged at the
  cache-read rate, its cache-write part at the cache-write rate, the rest at
  the input rate. An unpriced cache rate falls back to the input rate.
- ``output_tokens`` is everything generated, reasoning included. Its reasoning
  part is charged at the reasoning rate (falling back to the output rate, as
  OpenAI and Anthropic bill thinking as output today).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from polyroute.types import ModelPrices, Usage

__all__ = ["CostBreakdown", "Prices", "cost_of"]

PriceSource = Literal["config", "catalog", "dataset", "unknown"]


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per million tokens for one deployment, and where the figures came from."""

    input: float | None = None
    output: float | None = None
    cache_read: float | None = None
    cache_write: float | None = None
    reasoning: float | None = None
    source: PriceSource = "unknown"

    @property
    def known(self) -> bool:
        return self.input is not None and self.output is not None

    @classmethod
    def of(cls, prices: ModelPrices, source: PriceSource = "catalog") -> Prices:
        return cls(prices.input, prices.output, prices.cache_read, prices.cache_write,
                   None, source)

    def estimate(self, prompt_tokens: int, max_output_tokens: int) -> float:
        """Worst-case USD for a call: every prompt token fresh, every output token spent."""
        if self.input is None or self.output is None:
            return 0.0
        out = max(self.output, self.reasoning or 0.0)
        return (prompt_tokens * self.input + max_output_tokens * out) / 1_000_000

    def breakdown(self, usage: Usage) -> CostBreakdown | None:
        """The cost of ``usage`` per token class, or ``None`` when the price is unknown."""
        parts = self._parts(usage)
        return None if parts is None else CostBreakdown(*parts)

    def cost(self, usage: Usage) -> float | None:
        """``breakdown(usage).total`` without building the breakdown (priced twice on
        every call): the same sums in the same order, so the same float."""
        parts = self._parts(usage)
        if parts is None:
            return None
        fresh, read, written, out, reasoning = parts
        return fresh + read + written + out + reasoning

    def _parts(self, usage: Usage) -> tuple[float, float, float, float, float] | None:
        """(input, cache_read, cache_write, output, reasoning) USD, ``CostBreakdown``'s order."""
        if self.input is None or self.output is None:
            return None
        cached = usage.cache_read_tokens
        written = usage.cache_write_tokens
        fresh = max(0, usage.input_tokens - cached - written)
        reasoning = min(usage.reasoning_tokens, usage.output_tokens)
        read_rate = self.input if self.cache_read is None else self.cache_read
        write_rate = self.input if self.cache_write is None else self.cache_write
        reason_rate = self.output if self.reasoning is None else self.reasoning
        m = 1_000_000
        return (fresh * self.input / m, cached * read_rate / m, written * write_rate / m,
                (usage.output_tokens - reasoning) * self.output / m, reasoning * reason_rate / m)


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    input: float
    cache_read: float
    cache_write: float
    output: float
    reasoning: float

    @property
    def total(self) -> float:
        return self.input + self.cache_read + self.cache_write + self.output + self.reasoning


def cost_of(usage: Usage, prices: ModelPrices | Prices) -> float | None:
    """USD for ``usage`` at ``prices``; ``None`` when the model has no known price.

    ``usage.input_tokens`` includes cached-read and cache-write tokens; each is
    charged at its own rate (falling back to the input rate when unpriced).
    """
    if isinstance(prices, ModelPrices):
        if prices.input is None or prices.output is None:
            return None
        prices = Prices.of(prices)
    return prices.cost(usage)
