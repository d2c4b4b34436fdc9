"""LlamaIndex adapter: ``RoutedLLM``, a ``FunctionCallingLLM`` routed by polyroute.

Needs ``llama-index-core`` (``pip install polyroute[llamaindex]``).
"""

from polyroute.adapter_common import UnsupportedContentError, require_framework

require_framework("polyroute.llamaindex")

from polyroute.llamaindex.embeddings import RoutedEmbedding  # noqa: E402 (after the extra check)
from polyroute.llamaindex.llm import RoutedLLM, RouterLike  # noqa: E402 (after the extra check)
from polyroute.llamaindex.messages import (  # noqa: E402 (after the extra check)
    to_llamaindex,
    to_neutral,
    to_neutral_messages,
)
from polyroute.llamaindex.outputs import chat_response  # noqa: E402 (after the extra check)
from polyroute.llamaindex.tools import (  # noqa: E402 (after the extra check)
    neutral_response_format,
    neutral_tool_choice,
    neutral_tools,
)

__all__ = [
    "RoutedEmbedding",
    "RoutedLLM",
    "RouterLike",
    "UnsupportedContentError",
    "chat_response",
    "neutral_response_format",
    "neutral_tool_choice",
    "neutral_tools",
    "to_llamaindex",
    "to_neutral",
    "to_neutral_messages",
]

RoutedLLM.__module__ = "polyroute.llamaindex"
