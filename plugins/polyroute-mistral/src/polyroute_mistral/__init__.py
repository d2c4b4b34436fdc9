"""polyroute-mistral: Mistral AI's chat completions API for polyroute.

Installed, it registers the ``mistral`` provider type and the Mistral catalog
through the ``polyroute`` entry-point group. It imports nothing from
``polyroute_openai``: the wire format is OpenAI-like, the differences are not.
"""

from polyroute_mistral.catalog import MODELS
from polyroute_mistral.provider import MistralProvider
from polyroute_mistral.request import mistral_call_id
from polyroute_mistral.stream import MistralStreamParser

__all__ = ["MODELS", "MistralProvider", "MistralStreamParser", "mistral_call_id"]
__version__ = "0.1.0"
