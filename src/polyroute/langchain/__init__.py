"""LangChain adapter: ``RoutedChatModel``, a ``BaseChatModel`` routed by polyroute.

Needs ``langchain-core`` (``pip install polyroute[langchain]``).
"""

from polyroute.adapter_common import UnsupportedContentError, require_framework

require_framework("polyroute.langchain")

from polyroute.langchain.chat_model import RoutedChatModel, RouterLike  # noqa: E402 (after the extra check)
from polyroute.langchain.embeddings import RoutedEmbeddings  # noqa: E402 (after the extra check)
from polyroute.langchain.messages import (  # noqa: E402 (after the extra check)
    to_langchain,
    to_langchain_messages,
    to_neutral,
    to_neutral_messages,
)

__all__ = [
    "RoutedChatModel",
    "RoutedEmbeddings",
    "RouterLike",
    "UnsupportedContentError",
    "to_langchain",
    "to_langchain_messages",
    "to_neutral",
    "to_neutral_messages",
]

RoutedChatModel.__module__ = "polyroute.langchain"
