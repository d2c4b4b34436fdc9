"""Chat Completions streams: ``chat.completion.chunk`` SSE events → ``ChatChunk``.

Stream shape: https://platform.openai.com/docs/api-reference/chat-streaming
Each event's data is one chunk; with ``stream_options.include_usage`` a last
chunk with empty ``choices`` carries ``usage``; ``data: [DONE]`` ends it. The
parsing is the core's ``ChatCompletionsStreamParser`` (Mistral and other
compatible APIs share it); this plugin adds its error classifier and finish reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from polyroute.errors import ProviderError
from polyroute.providers.openai_compat import ChatCompletionsStreamParser
from polyroute.types import FinishReason
from polyroute_openai.parse import FINISH_REASONS, classify_error

__all__ = ["OpenAIStreamParser"]


class OpenAIStreamParser(ChatCompletionsStreamParser):
    """Decodes one streamed Chat Completions response."""

    finish_reasons: ClassVar[Mapping[str, FinishReason]] = FINISH_REASONS

    def error(self, payload: Mapping[str, Any]) -> ProviderError:
        return classify_error(None, payload, {}, self.provider, self.model, in_stream=True)
