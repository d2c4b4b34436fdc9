"""polyroute-ollama: a local Ollama server (native ``/api/chat``) for polyroute.

Installed, it registers the ``ollama`` provider type and a catalog of common
Ollama library models through the ``polyroute`` entry-point group.
"""

from polyroute_ollama.catalog import MODELS
from polyroute_ollama.host import normalize_host
from polyroute_ollama.provider import OllamaProvider
from polyroute_ollama.stream import OllamaStreamParser

__all__ = ["MODELS", "OllamaProvider", "OllamaStreamParser", "normalize_host"]
__version__ = "0.1.0"
