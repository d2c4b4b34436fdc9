"""Chat Completions streams: ``chat.completion.chunk`` SSE events → ``ChatChunk``.

Stream shape: https://platform.openai.com/docs/api-reference/chat-streaming
Each event's data is one chunk; with ``stream_options.include_usage`` a last
chunk with empty ``choices`` carries ``usage``; ``data: [DONE]`` ends it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from polyroute.errors import InvalidResponseError, StreamInterruptedError
from polyroute.providers.base import StreamEvent, StreamParser
from polyroute.providers.bodies import load_json, typed_parse
from polyroute.types import ChatChunk, ToolCallDelta
from polyroute_openai.parse import classify_error, map_finish_reason, parse_usage

__all__ = ["OpenAIStreamParser"]


class OpenAIStreamParser(StreamParser):
    """Decodes one streamed Chat Completions response."""

    def __init__(self, *, provider: str, model: str) -> None:
        self.provider = provider
        self.model = model
        self.done = False
        self.response_id: str | None = None
        self.response_model: str | None = None

    @typed_parse
    def feed(self, event: StreamEvent) -> Iterable[ChatChunk]:
        data = event.data.strip()
        if self.done or not data:
            return []
        if data == "[DONE]":
            self.done = True
            return []
        payload = load_json(data, provider=self.provider, model=self.model, what="stream event")
        if not isinstance(payload, Mapping):
            raise InvalidResponseError(
                "stream event is not a JSON object", provider=self.provider, model=self.model
            )
        if "error" in payload or event.event == "error":
            raise classify_error(None, payload, {}, self.provider, self.model, in_stream=True)
        return self._chunk(payload)

    def _chunk(self, payload: Mapping[str, Any]) -> list[ChatChunk]:
        if isinstance(payload.get("id"), str):
            self.response_id = payload["id"]
        if isinstance(payload.get("model"), str):
            self.response_model = payload["model"]
        text = ""
        deltas: list[ToolCallDelta] = []
        finish = None
        choices = payload.get("choices") or []
        if not isinstance(choices, list):
            raise InvalidResponseError(
                "stream chunk 'choices' is not a list", provider=self.provider, model=self.model
            )
        for choice in choices:
            if not isinstance(choice, Mapping) or choice.get("index", 0) != 0:
                continue  # n > 1 is not routed; only the first choice is kept
            delta = choice.get("delta") or {}
            if not isinstance(delta, Mapping):
                continue
            content = delta.get("content")
            if isinstance(content, str):
                text += content
            refusal = delta.get("refusal")
            if isinstance(refusal, str):
                text += refusal
            for call in delta.get("tool_calls") or []:
                if not isinstance(call, Mapping):
                    continue
                fn = call.get("function") if isinstance(call.get("function"), Mapping) else {}
                assert isinstance(fn, Mapping)
                args = fn.get("arguments")
                deltas.append(
                    ToolCallDelta(
                        index=int(call.get("index", len(deltas))),
                        id=call.get("id") if isinstance(call.get("id"), str) else None,
                        name=fn.get("name") if isinstance(fn.get("name"), str) else None,
                        arguments=args if isinstance(args, str) else "",
                    )
                )
            finish = map_finish_reason(choice.get("finish_reason")) or finish
        usage = parse_usage(payload.get("usage"), provider=self.provider, model=self.model)
        if not (text or deltas or finish or usage):
            return []
        return [
            ChatChunk(
                text=text,
                tool_calls=deltas,
                finish_reason=finish,
                usage=usage,
                response_id=self.response_id,
                response_model=self.response_model,
                provider=self.provider,
                model=self.model,
            )
        ]

    @typed_parse
    def close(self) -> Iterable[ChatChunk]:
        if not self.done:
            raise StreamInterruptedError(
                "stream ended before 'data: [DONE]'", provider=self.provider, model=self.model
            )
        return []
