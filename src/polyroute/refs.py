"""Names of what the router routes to: ``provider:model`` references and the
``Deployment`` (one provider instance serving one model) they name.

Plain data below every layer that needs it (the catalog, the parameter policy, the
planner); ``polyroute.routing.plan`` re-exports both under their old names.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from polyroute.errors import ConfigError

__all__ = ["Deployment", "parse_model_ref"]


def parse_model_ref(ref: str) -> tuple[str, str]:
    """``provider:model`` or ``provider/model`` → ``(provider, model)``.

    Splits on the first separator only: ``ollama:llama3.1:8b`` and
    ``openrouter/meta-llama/llama-3-70b`` keep the rest of the id intact.
    """
    ref = ref.strip()
    cut = min((i for i in (ref.find(":"), ref.find("/")) if i > 0), default=-1)
    if cut > 0 and cut < len(ref) - 1:
        return ref[:cut], ref[cut + 1 :]
    if cut > 0:  # "openai:" names a provider but no model
        raise ConfigError(
            f"model '{ref}' names provider '{ref[:cut]}' but no model",
            fix=f"add the model after the '{ref[cut]}', e.g. {ref}gpt-4.1-mini",
        )
    bare = ref.lstrip(":/")
    raise ConfigError(
        f"model '{ref}' does not name a provider",
        fix="write it as provider:model, e.g. "
            + (f"openai:{bare}" if bare and ":" not in bare else "openai:gpt-4.1-mini"),
    )


@dataclass(frozen=True, slots=True)
class Deployment:
    """One provider instance serving one model."""

    provider: str
    model: str
    key: str = field(init=False, compare=False, repr=False)
    """``provider/model``, computed once (it keys state on every call)."""
    _hash: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", f"{self.provider}/{self.model}")
        # a dict key several times per call: hashed once (as the generated hash would)
        object.__setattr__(self, "_hash", hash((self.provider, self.model)))

    def __hash__(self) -> int:
        return self._hash

    def __str__(self) -> str:
        return self.key
