"""LlamaIndex adapter: ``RoutedLLM``, a ``FunctionCallingLLM`` routed by polyroute.

Needs ``llama-index-core`` (``pip install polyroute[llamaindex]``).
"""

from polyroute.errors import MissingExtraError

try:
    import llama_index.core  # noqa: F401
except ImportError as _exc:  # say which extra, not a bare ModuleNotFoundError
    raise MissingExtraError(
        "polyroute.llamaindex", package="llama-index-core", extra="llamaindex",
        module=_exc.name or "llama_index.core",
    ) from None

from polyroute.llamaindex.llm import RoutedLLM, RouterLike
from polyroute.llamaindex.messages import (
    UnsupportedContentError,
    to_llamaindex,
    to_neutral,
    to_neutral_messages,
)
from polyroute.llamaindex.outputs import chat_response
from polyroute.llamaindex.tools import (
    neutral_response_format,
    neutral_tool_choice,
    neutral_tools,
)

__all__ = [
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
