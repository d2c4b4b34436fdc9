"""How hard a request looks, 0 (trivial) .. 1 (hard): the ``complexity`` a rule tests.

The built-in scorer is a cheap heuristic, not a learned model: it reads the prompt's
size, code blocks, reasoning words, the number of turns and what the request needs
(tools, a JSON schema). It runs in microseconds, without network, so it may decide
every call ("complexity < 0.3 → the cheap route"). A better scorer (a RouteLLM-style
classifier, an embedding model) plugs in by name: ``complexity_classifier:
mypkg.scoring:score``, a callable taking the ``ChatRequest`` and returning a float in
0..1; anything else it returns is a ``ConfigError`` naming it, never a guess.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable

from polyroute.errors import ConfigError
from polyroute.tokens import prompt_tokens
from polyroute.types import Capability, ChatRequest

__all__ = ["ComplexityScorer", "builtin_complexity", "load_classifier"]

ComplexityScorer = Callable[[ChatRequest], float]

# words that tend to mark multi-step work (whole words, case-insensitive); a set
# lookup per word, not a regex alternation: the scorer runs on every call
_HARD_WORDS = frozenset({
    "prove", "proof", "derive", "analyze", "analyse", "architecture", "refactor",
    "optimize", "optimise", "debug", "tradeoff", "tradeoffs", "trade-off", "trade-offs",
    "compare", "algorithm", "theorem", "complexity", "design", "migrate", "concurrency",
    "concurrent", "step-by-step",
})
_WORD = re.compile(r"[a-z][a-z-]*")
_CODE_MARKS = ("```", "def ", "class ", "function ", "return ", "#include", "=>", "};")


def builtin_complexity(request: ChatRequest) -> float:
    """The built-in heuristic: a weighted sum of signals, clamped to 0..1.

    * size: 0 at <= 50 prompt tokens, rising with log10 to 0.35 at ~50k tokens
    * code in the last user turn: +0.2; each reasoning word (up to 3): +0.1
    * a conversation of more than 6 messages: +0.1
    * tools or a JSON schema needed: +0.1 each
    """
    tokens = prompt_tokens(request)
    score = 0.35 * min(1.0, max(0.0, math.log10(max(tokens, 1) / 50) / 3))
    last = next((m for m in reversed(request.messages) if m.role == "user"), None)
    text = last.text if last is not None else ""
    text = text[:20_000]  # the signals are in the first pages; bound the regex work
    if any(mark in text for mark in _CODE_MARKS):
        score += 0.2
    lowered = text.lower()
    hard = sum(1 for w in _WORD.findall(lowered) if w in _HARD_WORDS)
    hard += lowered.count("step by step")
    score += 0.1 * min(3, hard)
    if len(request.messages) > 6:
        score += 0.1
    needed = request.required_capabilities()
    score += 0.1 * len(needed & {Capability.TOOLS, Capability.JSON_SCHEMA})
    return min(1.0, score)


def load_classifier(name: str) -> ComplexityScorer:
    """``builtin``, or the ``module:attribute`` callable the config names."""
    if name == "builtin":
        return builtin_complexity
    module, sep, attr = name.partition(":")
    if not sep or not module or not attr:
        raise ConfigError(
            f"complexity_classifier {name!r} is neither 'builtin' nor module:function",
            field="complexity_classifier", fix="write e.g. mypkg.scoring:score",
        )
    try:
        found: object = importlib.import_module(module)
        for part in attr.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"complexity_classifier {name!r} cannot be loaded ({type(exc).__name__}: {exc})",
            field="complexity_classifier",
            fix="install the package that provides it, or check the module and function name",
        ) from None
    if not callable(found):
        raise ConfigError(f"complexity_classifier {name!r} is not callable",
                          field="complexity_classifier", fix="name a function")
    return _checked(name, found)


def _checked(name: str, scorer: Callable[[ChatRequest], object]) -> ComplexityScorer:
    def score(request: ChatRequest) -> float:
        value = scorer(request)
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value) or not 0 <= value <= 1):
            raise ConfigError(
                f"complexity_classifier {name!r} returned {value!r}; a score is a "
                "number from 0 to 1", field="complexity_classifier",
                fix="make the classifier return a float in 0..1",
            )
        return float(value)

    return score
