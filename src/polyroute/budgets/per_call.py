"""A call's worst-case cost, and the per-call ``max_cost_usd`` constraint.

The worst case is what a budget reserves before an attempt: the estimated prompt
(scaled by what the deployment has been seen to count, see ``TokenRatios``) at the
input rate, plus the most output the call may produce at the output rate. It says
what it rests on, so a refusal can tell the user which number to change.

``MaxCostGuard`` applies ``RoutingHints(max_cost_usd=…)`` on a router that has no
budgets, ledger or pricing section (which would build the full ``CostGuard``): a
per-call constraint always applies, or the candidate is refused with the reason —
it is never ignored.
"""

from __future__ import annotations

import json
import math
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from polyroute.cost.book import PriceBook
from polyroute.cost.pricing import Prices
from polyroute.errors import BudgetExceeded, RoutingError
from polyroute.routing.guards import CandidateSkipped, Guard
from polyroute.routing.plan import Deployment
from polyroute.state.base import StateStore, number
from polyroute.tokens import prompt_tokens
from polyroute.types import ChatRequest, ImagePart, ToolCallPart, ToolResultPart

__all__ = ["MaxCostGuard", "TokenRatios", "WorstCase", "check_max_cost", "worst_case"]

_RATIO_WINDOW = 32  # the last answered attempts a deployment's ratio is taken over
_RATIO_CAP = 32.0  # one absurd usage report cannot make every reservation huge
_RATIO_TTL = 3600.0


class TokenRatios:
    """Per deployment, the largest recent ratio of the prompt tokens the provider
    counted to the ones we estimated (≥ 1). Reservations scale the prompt estimate
    by it, so a provider whose tokenizer counts more than ours is reserved for what
    it will bill.

    With a ``store``, the ratio is shared: a process reads it before its own first
    answer from a deployment (so a process started late does not reserve at the
    raw estimate), and publishes it when its own grows. The key expires after an
    hour without growth, so a deployment that stops over-counting is forgiven."""

    def __init__(self, store: StateStore | None = None) -> None:
        self._seen: dict[Deployment, deque[float]] = {}
        self._shared: dict[Deployment, float] = {}
        self._store = store
        self._lock = threading.Lock()

    def factor(self, dep: Deployment) -> float | None:
        """The ratio to scale estimates by; ``None`` while no count has been seen."""
        seen = self._seen.get(dep)
        if seen:
            return max(seen)
        if self._store is None:
            return None
        shared = self._store.get(_ratio_key(dep))
        if shared is None:
            return None
        shared = number(shared, where=repr(self._store), key=_ratio_key(dep),
                        fix=self._store.fix(_ratio_key(dep)))  # corrupt: fail closed
        return min(_RATIO_CAP, max(1.0, shared))

    def observe(self, dep: Deployment, estimated: int, counted: int) -> None:
        if estimated <= 0 or counted <= 0:
            return
        ratio = min(_RATIO_CAP, max(1.0, counted / estimated))
        with self._lock:
            seen = self._seen.get(dep)
            if seen is None:
                seen = self._seen[dep] = deque(maxlen=_RATIO_WINDOW)
            seen.append(ratio)
            top = max(seen)
            publish = top > self._shared.get(dep, 1.0)
            if publish:
                self._shared[dep] = top
        if publish and self._store is not None:
            self._store.set(_ratio_key(dep), top, ttl=_RATIO_TTL)


def _ratio_key(dep: Deployment) -> str:
    return f"tokratio:{dep.key}"


@dataclass(frozen=True, slots=True)
class WorstCase:
    usd: float
    prompt_estimate: int
    """Prompt tokens as estimated before the call (tiktoken or ~4 chars a token)."""
    prompt_tokens: int
    """What is reserved for: the estimate times the deployment's learned ratio."""
    output_tokens: int
    output_basis: str
    """``max_tokens``, ``the model's max output`` or ``pricing.default_max_output_tokens``."""
    prices: Prices
    cold: bool = False
    """Reserved at the prompt's ceiling (one token per byte): no count seen yet."""

    @property
    def capped(self) -> bool:
        """Whether ``max_tokens`` bounds the output (else it is the model's maximum)."""
        return self.output_basis == "max_tokens"

    def describe(self) -> str:
        scale = self.prompt_tokens / max(1, self.prompt_estimate)
        if self.cold:
            ratio = (f" (one per byte: no count seen from this deployment yet; estimated "
                     f"{self.prompt_estimate:,})")
        elif self.prompt_tokens != self.prompt_estimate:
            ratio = (f" (estimated {self.prompt_estimate:,} x {scale:.2f}, the ratio this "
                     "provider has counted)")
        else:
            ratio = " (estimated)"
        return (f"worst case {self.prompt_tokens:,} prompt tokens{ratio} at "
                f"${self.prices.input or 0:g}/MTok + {self.output_tokens:,} output tokens "
                f"({self.output_basis}) at ${self.prices.output or 0:g}/MTok")

    def fix(self) -> str:
        if self.capped:
            return "lower max_tokens or the prompt, or raise the limit"
        return (f"set max_tokens (the worst case assumes {self.output_tokens:,} output tokens, "
                "the most this model may produce) or raise the limit")


def prompt_ceiling(request: ChatRequest) -> int:
    """The most tokens the prompt can be billed as: one per UTF-8 byte of its text
    (byte-level BPE — OpenAI, Llama 3 — and SentencePiece with byte fallback never
    make more tokens than bytes), plus the estimate's per-message, per-tool and
    per-image figures (an image's count is an estimate either way)."""
    total = 3
    for message in request.messages:
        total += 4
        parts = [message.content] if isinstance(message.content, str) else message.content
        for part in parts:
            if isinstance(part, str):
                total += len(part.encode())
            elif isinstance(part, ImagePart):
                total += 765
            elif isinstance(part, ToolCallPart):
                total += len(part.name.encode()) + len(json.dumps(part.arguments).encode())
            elif isinstance(part, ToolResultPart):
                total += len(part.content.encode())
            else:
                total += len(part.text.encode())
    for tool in request.tools:
        total += 8 + len((tool.name + tool.description).encode()) + len(
            json.dumps(tool.parameters).encode())
    return total


def worst_case(book: PriceBook, dep: Deployment, request: ChatRequest,
               ratio: float | None = 1.0, *, reserve: bool = False) -> WorstCase:
    """What the call can cost at most. ``ratio`` is the deployment's learned
    counted/estimated ratio; ``None`` (none seen yet) with ``reserve`` takes the
    prompt at its ceiling, so a budget's first calls cannot overspend either."""
    prices = book.prices(dep)
    estimate = prompt_tokens(request)
    cold = ratio is None and reserve
    if cold:
        prompt = max(estimate, prompt_ceiling(request))
    else:
        prompt = max(estimate, math.ceil(estimate * (ratio or 1.0)))
        if ratio is not None and ratio > 1.0:  # never past what the bytes allow
            prompt = min(prompt, max(estimate, prompt_ceiling(request)))
    if request.params.max_tokens:
        out, basis = request.params.max_tokens, "max_tokens"
    else:
        info = book.info(dep)
        if info is not None and info.max_output_tokens:
            out, basis = info.max_output_tokens, "the model's max output"
        else:
            out = book.pricing.default_max_output_tokens
            basis = "pricing.default_max_output_tokens"
    return WorstCase(prices.estimate(prompt, out), estimate, prompt, out, basis, prices, cold)


def check_max_cost(book: PriceBook, dep: Deployment, request: ChatRequest,
                   worst: WorstCase | None = None) -> WorstCase | None:
    """Raise ``CandidateSkipped`` if ``dep`` could cost more than the call's
    ``max_cost_usd``; the worst case it computed (``None`` without a max_cost)."""
    limit = request.routing.max_cost_usd
    if limit is None:
        return worst
    if isinstance(limit, bool) or not math.isfinite(limit) or limit < 0:
        raise CandidateSkipped(f"max_cost_usd {limit!r} is not usable", RoutingError(
            f"max_cost_usd {limit!r} is not a finite, non-negative number of USD; pass "
            "a limit such as 0.05, or None for no per-call limit"))
    if not book.prices(dep).known:
        reason = (f"no known price for {dep.key}, so the call's max_cost ${limit:g} cannot "
                  "be checked")
        raise CandidateSkipped(reason, BudgetExceeded(
            "request (max_cost)", 0.0, limit, basis=reason, per_request=True,
            fix=f"set pricing.overrides['{dep.provider}:{dep.model}'] or drop max_cost_usd"))
    worst = worst or worst_case(book, dep, request)
    if worst.usd > limit:
        raise CandidateSkipped(
            f"worst-case cost ${worst.usd:.4f} is over the call's max_cost ${limit:g}",
            BudgetExceeded("request (max_cost)", 0.0, limit, needed_usd=worst.usd,
                           basis=worst.describe(), fix=worst.fix(), per_request=True),
        )
    return worst


class MaxCostGuard(Guard):
    """``max_cost_usd`` for a router without the full ``CostGuard``; free when unset."""

    name = "max_cost"

    def __init__(self, book: PriceBook) -> None:
        self.book = book

    def before_attempt(self, dep: Deployment, request: ChatRequest) -> Any:
        if request.routing.max_cost_usd is not None:
            check_max_cost(self.book, dep, request)
        return None

    def verdict(self, dep: Deployment, request: ChatRequest) -> str:
        """What ``before_attempt`` will do, for ``route --explain``."""
        try:
            worst = check_max_cost(self.book, dep, request)
        except CandidateSkipped as skip:
            return f"refused: {skip.error or skip.reason}"
        if worst is None:
            return "no budget"
        return f"ok: worst case ${worst.usd:.4f} within max_cost"
