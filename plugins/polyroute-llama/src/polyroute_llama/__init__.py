"""Meta Llama API provider for polyroute (sans-IO): ``type: llama``.

Loaded through the ``polyroute`` entry-point group; imports no HTTP client.
"""

from polyroute_llama.catalog import MODELS
from polyroute_llama.provider import LlamaProvider
from polyroute_llama.stream import LlamaStreamParser

__all__ = ["MODELS", "LlamaProvider", "LlamaStreamParser"]

__version__ = "0.1.0"
