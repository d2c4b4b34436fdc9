"""polyroute-cohere: Cohere's Chat API v2 for polyroute.

Installed, it registers the ``cohere`` provider type and the Command model
catalog through the ``polyroute`` entry-point group.
"""

from polyroute_cohere.catalog import MODELS
from polyroute_cohere.provider import CohereProvider
from polyroute_cohere.stream import CohereStreamParser

__all__ = ["MODELS", "CohereProvider", "CohereStreamParser"]
__version__ = "0.1.0"
