"""polyroute-gemini: Google Gemini (Gemini API and Vertex AI) for polyroute.

Installed, it registers the ``gemini`` and ``vertex_gemini`` provider types
and the Gemini catalog through the ``polyroute`` entry-point group.
"""

from polyroute_gemini.catalog import MODELS, VERTEX_MODELS
from polyroute_gemini.provider import GeminiProvider, VertexGeminiProvider
from polyroute_gemini.stream import GeminiStreamParser

__all__ = [
    "MODELS",
    "VERTEX_MODELS",
    "GeminiProvider",
    "GeminiStreamParser",
    "VertexGeminiProvider",
]
__version__ = "0.1.0"
