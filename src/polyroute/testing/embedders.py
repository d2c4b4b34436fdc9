"""A deterministic stand-in embedder for semantic-cache tests: no model, no numpy.

``BagOfWords`` hashes each lower-cased word (stop words dropped) into a fixed number
of dimensions, so prompts sharing their words are close — including the pairs that
make semantic caching dangerous ("enable X" / "disable X" differ by one word), which
is what a test of the content gate needs. Use it as ``cache.semantic.embedder:
polyroute.testing.embedders:bag_of_words``.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence

__all__ = ["BagOfWords", "bag_of_words"]

_STOP = frozenset(["a", "an", "the", "do", "i", "to", "in", "of", "is", "it", "how", "can",
                   "you", "me", "my", "what", "please"])
_WORDS = re.compile(r"[a-z0-9_]+")


class BagOfWords:
    space = "test:bag-of-words:64:l2"
    ndim = 64

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        out = []
        for text in texts:
            vector = [0.0] * self.ndim
            for word in _WORDS.findall(text.lower()):
                if word in _STOP:
                    continue
                digest = hashlib.blake2b(word.encode(), digest_size=2).digest()
                vector[int.from_bytes(digest, "big") % self.ndim] += 1.0
            norm = math.sqrt(sum(v * v for v in vector)) or 1.0
            out.append([v / norm for v in vector])
        return out


def bag_of_words() -> BagOfWords:
    return BagOfWords()
