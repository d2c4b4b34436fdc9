"""Mistral chat completion streams (SSE ``chat.completion.chunk`` events) → ``ChatChunk``s.

Reference: https://docs.mistral.ai/api/#tag/chat (``stream: true``: "tokens
will be sent as data-only server-sent events as they become available, with
the stream terminated by a ``data: [DONE]`` message").

Unlike OpenAI, usage needs no ``stream_options``: the chunk that carries the
``finish_reason`` also carries ``usage``. Tool calls usually arrive whole in
one delta (id, name and the complete ``arguments``), keyed by ``index``.
Reasoning models stream ``thinking`` content chunks, kept in ``parser.thinking``.
The OpenAI-shaped parsing is the core's ``ChatCompletionsStreamParser``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from polyroute.errors import ProviderError
from polyroute.providers.base import StreamEvent
from polyroute.providers.openai_compat import ChatCompletionsStreamParser
from polyroute.types import FinishReason
from polyroute_mistral.errors import classify_error
from polyroute_mistral.parse import FINISH_REASONS, content_text

__all__ = ["MistralStreamParser"]


class MistralStreamParser(ChatCompletionsStreamParser):
    """Decodes one streamed Mistral chat completion."""

    finish_reasons: ClassVar[Mapping[str, FinishReason]] = FINISH_REASONS

    def __init__(self, *, provider: str, model: str) -> None:
        super().__init__(provider=provider, model=model)
        self.thinking: list[str] = []

    def is_error(self, payload: Mapping[str, Any], event: StreamEvent) -> bool:
        return payload.get("object") == "error" or "error" in payload or "detail" in payload

    def error(self, payload: Mapping[str, Any]) -> ProviderError:
        return classify_error(None, payload, {}, self.provider, self.model, in_stream=True)

    def delta_text(self, delta: Mapping[str, Any]) -> str:
        return content_text(delta.get("content"), self.thinking)
