"""polyroute-anthropic: Claude (Anthropic Messages API) for polyroute.

Installed, it registers the ``anthropic`` provider type and the Claude
catalog through the ``polyroute`` entry-point group.
"""

from polyroute_anthropic.catalog import MODELS
from polyroute_anthropic.provider import DEFAULT_API_VERSION, AnthropicProvider
from polyroute_anthropic.stream import AnthropicStreamParser

__all__ = [
    "DEFAULT_API_VERSION",
    "MODELS",
    "AnthropicProvider",
    "AnthropicStreamParser",
]
__version__ = "0.1.0"
