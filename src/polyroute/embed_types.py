"""Neutral types for embeddings: requests, answers, limits and the *space*.

Vectors from different models — or from one model at two dimensions — cannot be
compared, so the unit the router reasons about is an ``EmbeddingSpace`` (model
identity + dimension + normalisation), not a deployment. Failover walks only
deployments of one space; leaving it is a route's explicit decision
(``allow_cross_space``), and every answer names the space its vectors are in.

Beside ``polyroute.types`` (the same layer): no provider vocabulary here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from polyroute.errors import ConfigError, InvalidResponseError, RoutingError
from polyroute.types import Attempt, Usage

__all__ = [
    "CrossSpaceError",
    "EmbedLimits",
    "EmbedModelSpec",
    "EmbedRequest",
    "EmbedResponse",
    "EmbedResult",
    "EmbeddingSpace",
    "InputType",
    "check_vectors",
]

InputType = Literal["document", "query", "classification", "clustering", "similarity"]
"""What a text is for. Providers that distinguish (Cohere ``input_type``, Gemini
``taskType``, Bedrock Cohere) get their own name for it; the others ignore it."""


@dataclass(frozen=True, slots=True)
class EmbeddingSpace:
    """Where a vector lives: comparable only with vectors of the same space."""

    model: str
    """The model's identity, independent of who serves it (``openai/text-embedding-3-small``
    at OpenAI and at Azure is one identity; a plugin's catalog or a route says so)."""
    dimensions: int | None
    """``None``: an uncatalogued model whose width is whatever it answers."""
    normalized: bool = True

    @property
    def id(self) -> str:
        dims = "?" if self.dimensions is None else str(self.dimensions)
        return f"{self.model}@{dims}{'' if self.normalized else ':raw'}"

    def __str__(self) -> str:
        return self.id


@dataclass(frozen=True, slots=True)
class EmbedLimits:
    """A provider's documented per-request limits for one model (``None``: none stated)."""

    max_inputs: int | None = None
    max_tokens_per_request: int | None = None
    max_tokens_per_input: int | None = None


@dataclass(frozen=True, slots=True)
class EmbedModelSpec:
    """What a plugin knows about one embedding model."""

    model: str
    identity: str
    """``EmbeddingSpace.model``: the same string for the same weights anywhere."""
    dimensions: int
    """The default output dimension."""
    dimension_options: frozenset[int] | None = None
    """Dimensions the request may ask for (``None``: only ``dimensions``)."""
    normalized: bool = True
    limits: EmbedLimits = field(default_factory=EmbedLimits)
    input_price_per_mtok: float | None = None
    """USD per million input tokens, used when the price book knows no price."""

    def space(self, dimensions: int | None = None) -> EmbeddingSpace:
        return EmbeddingSpace(self.identity, dimensions or self.dimensions, self.normalized)

    def accepts(self, dimensions: int | None) -> bool:
        if dimensions is None or dimensions == self.dimensions:
            return True
        return self.dimension_options is not None and dimensions in self.dimension_options


class EmbedRequest(BaseModel):
    """Texts to embed, and how. ``routing`` picks the route as for chat."""

    model_config = ConfigDict(extra="forbid")

    texts: list[str]
    input_type: InputType | None = None
    dimensions: int | None = Field(default=None, ge=1, le=65536)
    truncate: Literal["none", "start", "end"] | None = None
    """What the provider does with a text longer than the model takes (``None``: its
    default; ``"none"``: refuse it)."""
    agent: str | None = None
    route: str | None = None
    model: str | None = None
    """An explicit ``provider/model`` (then ``fallbacks`` may add more)."""
    fallbacks: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    cache: Literal["default", "no-cache", "no-store"] = "default"

    @field_validator("texts")
    @classmethod
    def _texts(cls, texts: list[str]) -> list[str]:
        for i, text in enumerate(texts):
            if not isinstance(text, str) or not text:
                raise ValueError(f"texts[{i}] is empty: providers refuse empty inputs "
                                 "(drop it or embed a placeholder)")
        return texts


class EmbedResult(BaseModel):
    """What a provider parser returns for one HTTP answer."""

    model_config = ConfigDict(extra="forbid")

    vectors: list[list[float]]
    usage: Usage = Field(default_factory=Usage)
    usage_estimated: bool = False
    """The provider reported no token count: ``usage`` is polyroute's estimate."""
    response_model: str | None = None


class EmbedResponse(BaseModel):
    """The routed answer: one vector per input text, in input order."""

    model_config = ConfigDict(extra="forbid")

    vectors: list[list[float]]
    space: str
    """``EmbeddingSpace.id`` of every vector here."""
    usage: Usage = Field(default_factory=Usage)
    provider: str = ""
    """Who answered the last provider request (``""``: every text came from the cache)."""
    model: str = ""
    attempts: list[Attempt] = Field(default_factory=list)
    latency_ms: float = 0.0
    cost_usd: float | None = 0.0
    cache_hits: int = 0
    """Texts answered from the per-text embedding cache (they cost nothing)."""
    cross_space: bool = False
    """The route's first space failed and ``allow_cross_space`` let another answer."""
    response_metadata: dict[str, Any] = Field(default_factory=dict)


class CrossSpaceError(RoutingError):
    """A fallback would change the embedding space, and the route does not allow it."""

    def __init__(self, first: EmbeddingSpace | str, other: EmbeddingSpace | str, *,
                 where: str, reason: str = "") -> None:
        self.first, self.other, self.where = str(first), str(other), where
        self.reason = (
            f"{where}: refusing to fall back from embedding space {self.first} to "
            f"{self.other}: their vectors are not comparable{reason} — fix: list only "
            f"deployments of {self.first}, or set allow_cross_space: true on the route "
            "(answers then name their space)")
        super().__init__(self.reason)


def check_vectors(vectors: Any, *, count: int, dimensions: int | None, provider: str,
                  model: str) -> list[list[float]]:
    """``vectors`` as lists of finite floats, ``count`` of them, all one length (and
    ``dimensions`` long if given); else ``InvalidResponseError`` naming what is wrong."""
    def bad(why: str) -> InvalidResponseError:
        return InvalidResponseError(f"embedding response {why}", provider=provider, model=model)

    if not isinstance(vectors, Sequence) or isinstance(vectors, (str, bytes)):
        raise bad("has no list of vectors")
    if len(vectors) != count:
        raise bad(f"has {len(vectors)} vectors for {count} inputs")
    out: list[list[float]] = []
    width = dimensions
    for i, vec in enumerate(vectors):
        if not isinstance(vec, Sequence) or isinstance(vec, (str, bytes)) or not vec:
            raise bad(f"vector {i} is not a list of numbers")
        row: list[float] = []
        for x in vec:
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise bad(f"vector {i} holds a non-finite or non-numeric value")
            try:
                f = float(x)  # an integer past 1e308 overflows (found by the fuzz suite)
            except OverflowError:
                f = math.inf
            if not math.isfinite(f):
                raise bad(f"vector {i} holds a non-finite or non-numeric value")
            row.append(f)
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise bad(f"vector {i} has {len(row)} dimensions, expected {width}")
        out.append(row)
    return out


def config_error(message: str, field: str, fix: str) -> ConfigError:
    """A ``ConfigError`` for the ``embeddings:`` section (kept here for the planner)."""
    return ConfigError(message, field=field, fix=fix)
