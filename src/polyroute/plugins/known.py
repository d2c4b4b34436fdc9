"""The provider plugins the polyroute project publishes, and the fix for a provider
type that no installed plugin registers.

A typo'd type must never turn into ``pip install polyroute-<typo>``: anyone can
publish a package under a name we merely suggested (typosquatting). So a fix
names a close installed or known type first, and offers ``pip install`` only for
a distribution listed here.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["KNOWN_PLUGINS", "unknown_type_fix"]

KNOWN_PLUGINS: dict[str, str] = {
    "openai": "polyroute-openai",
    "azure_openai": "polyroute-openai",
    "azure_ai_inference": "polyroute-openai",
    "anthropic": "polyroute-anthropic",
    "gemini": "polyroute-gemini",
    "vertex_gemini": "polyroute-gemini",
    "cohere": "polyroute-cohere",
    "mistral": "polyroute-mistral",
    "ollama": "polyroute-ollama",
    "bedrock": "polyroute-bedrock",
    "llama": "polyroute-llama",
}
"""Provider type → the distribution (in this repository's ``plugins/``) that registers it."""


def unknown_type_fix(ptype: str, installed: Iterable[str]) -> str:
    """The fix for provider type ``ptype``, which no installed plugin registers."""
    have = set(installed)
    if ptype in KNOWN_PLUGINS:
        return f"pip install {KNOWN_PLUGINS[ptype]}"
    close = difflib.get_close_matches(ptype, sorted(have | set(KNOWN_PLUGINS)), n=1)
    if close:
        guess = close[0]
        if guess in have:
            return f"did you mean '{guess}'?"
        return f"did you mean '{guess}'? (pip install {KNOWN_PLUGINS[guess]})"
    return (
        "fix the type name: no known plugin registers it (polyroute plugins lists the "
        "installed ones; docs/providers.md lists the published ones)"
    )
