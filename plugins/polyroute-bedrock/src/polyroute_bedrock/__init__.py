"""polyroute-bedrock: Amazon Bedrock (Converse / ConverseStream) for polyroute.

Installed, it registers the ``bedrock`` provider type, a catalog of Bedrock
models and the ``aws-eventstream`` stream framing through the ``polyroute``
entry-point group.
"""

from polyroute_bedrock.catalog import MODELS
from polyroute_bedrock.eventstream import (
    FRAMING,
    AwsEventStreamFraming,
    EventStreamDecoder,
    EventStreamMessage,
    encode_message,
)
from polyroute_bedrock.provider import BedrockProvider
from polyroute_bedrock.stream import BedrockStreamParser

__all__ = [
    "FRAMING",
    "MODELS",
    "AwsEventStreamFraming",
    "BedrockProvider",
    "BedrockStreamParser",
    "EventStreamDecoder",
    "EventStreamMessage",
    "encode_message",
]
__version__ = "0.1.0"
