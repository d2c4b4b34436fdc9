"""Deterministic stand-in embeddings: the same (model, text, dimensions) always gives
the same unit vector, different texts give different ones. For stand-in responders
and tests only; they mean nothing."""

from __future__ import annotations

import base64
import hashlib
import math
import random
import struct

__all__ = ["fake_vector", "float32_base64"]


def fake_vector(model: str, text: str, dimensions: int, *, input_type: str | None = None
                ) -> list[float]:
    seed = hashlib.sha256(f"{model}\0{input_type or ''}\0{text}".encode()).digest()
    rng = random.Random(seed)
    vec = [rng.gauss(0.0, 1.0) for _ in range(dimensions)]
    norm = math.sqrt(sum(x * x for x in vec)) or 1.0
    # rounded to float32 so JSON floats and base64 float32s carry the same values
    return [struct.unpack("<f", struct.pack("<f", x / norm))[0] for x in vec]


def float32_base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
