"""LangChain adapter: ``RoutedChatModel``, a ``BaseChatModel`` routed by polyroute.

Needs ``langchain-core`` (``pip install polyroute[langchain]``).
"""

from polyroute.errors import MissingExtraError

try:
    import langchain_core  # noqa: F401
except ImportError as _exc:  # say which extra, not a bare ModuleNotFoundError
    raise MissingExtraError(
        "polyroute.langchain", package="langchain-core", extra="langchain",
        module=_exc.name or "langchain_core",
    ) from None

from polyroute.langchain.chat_model import RoutedChatModel, RouterLike
from polyroute.langchain.messages import (
    UnsupportedContentError,
    to_langchain,
    to_langchain_messages,
    to_neutral,
    to_neutral_messages,
)

__all__ = [
    "RoutedChatModel",
    "RouterLike",
    "UnsupportedContentError",
    "to_langchain",
    "to_langchain_messages",
    "to_neutral",
    "to_neutral_messages",
]

RoutedChatModel.__module__ = "polyroute.langchain"
