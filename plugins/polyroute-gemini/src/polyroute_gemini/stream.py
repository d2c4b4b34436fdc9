"""``streamGenerateContent?alt=sse`` events → ``ChatChunk``s.

Reference: https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent
and https://ai.google.dev/gemini-api/docs/text-generation#streaming-responses.
With ``alt=sse`` every event's data is one whole ``GenerateContentResponse``
holding the next parts; there is no terminal sentinel: the chunk carrying the
candidate's ``finishReason`` (with the final ``usageMetadata``) is the last.
An in-band ``{"error": {...}}`` may arrive after the 200.

Chunks: one per text part (thought parts accumulate in ``parser.thoughts``),
one ``ToolCallDelta`` per ``functionCall`` (Gemini sends each call whole, so
``arguments`` is the complete JSON), and a final chunk with the finish reason
and usage. A stream that ends before any ``finishReason`` raises
``StreamInterruptedError`` from ``close``; a safety block mid-stream raises
``ContentPolicyError``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from polyroute.providers.base import StreamEvent
from polyroute.providers.bodies import typed_parse
from polyroute.providers.streams import JsonEventParser
from polyroute.types import ChatChunk, ToolCallDelta, Usage
from polyroute_gemini.errors import error_from_data
from polyroute_gemini.parse import call_id, finish_reason, policy_block, usage_from
from polyroute_gemini.request import SIGNATURE_PREFIX

__all__ = ["GeminiStreamParser"]


class GeminiStreamParser(JsonEventParser):
    """Stateful decoder of one Gemini SSE stream."""

    label: ClassVar[str] = "Gemini stream"

    def __init__(self, *, provider: str, model: str) -> None:
        super().__init__(provider=provider, model=model)
        self.thoughts: list[str] = []
        self.usage: Usage | None = None
        self._calls = 0

    @typed_parse
    def feed(self, event: StreamEvent) -> Iterable[ChatChunk]:
        if not event.data.strip():
            return []
        data = self.load(event.data)
        if isinstance(data, list) and len(data) == 1:
            data = data[0]
        if not isinstance(data, Mapping):
            raise self.broken("event data is not a JSON object")
        if "error" in data:
            self.done = True
            raise error_from_data(data, status=None, headers={}, provider=self.provider,
                                  model=self.model, raw=event.data.encode())
        blocked = policy_block(data, provider=self.provider, model=self.model)
        if blocked is not None:
            self.done = True
            raise blocked
        if isinstance(data.get("responseId"), str):
            self.response_id = data["responseId"]
        if isinstance(data.get("modelVersion"), str):
            self.response_model = data["modelVersion"]
        usage = usage_from(data.get("usageMetadata"), provider=self.provider, model=self.model)
        if usage is not None:
            self.usage = usage
        if self.done:  # a trailing usage-only chunk
            return [self.chunk(usage=usage)] if usage is not None else []

        out: list[ChatChunk] = []
        candidates = data.get("candidates")
        candidate = candidates[0] if isinstance(candidates, list) and candidates else {}
        if not isinstance(candidate, Mapping):
            raise self.broken("candidate is not an object")
        content = candidate.get("content")
        parts = content.get("parts") if isinstance(content, Mapping) else None
        for part in parts if isinstance(parts, list) else []:
            if not isinstance(part, Mapping):
                continue
            if isinstance(part.get("text"), str):
                if part.get("thought"):
                    self.thoughts.append(part["text"])
                elif part["text"]:
                    out.append(self.chunk(text=part["text"]))
            elif isinstance(part.get("functionCall"), Mapping):
                out.append(self._call(part["functionCall"], part.get("thoughtSignature")))
        reason = candidate.get("finishReason")
        if isinstance(reason, str):
            self.done = True
            out.append(self.chunk(
                finish_reason=finish_reason(reason, has_calls=self._calls > 0),
                usage=self.usage or Usage(),
            ))
        return out

    @typed_parse
    def close(self) -> Iterable[ChatChunk]:
        if not self.done:
            raise self.broken("stream ended before a candidate finishReason")
        return []

    def _call(self, fc: Mapping[str, Any], signature: Any = None) -> ChatChunk:
        name, args = fc.get("name"), fc.get("args") or {}
        if not isinstance(name, str) or not isinstance(args, Mapping):
            raise self.broken("functionCall without a name or with non-object args")
        given = fc.get("id")
        cid = given if isinstance(given, str) and given else call_id(
            self.response_id, self._calls, name, args)
        delta = ToolCallDelta(index=self._calls, id=cid, name=name,
                              arguments=json.dumps(args, ensure_ascii=False),
                              signature=SIGNATURE_PREFIX + signature
                              if isinstance(signature, str) and signature else None)
        self._calls += 1
        return self.chunk(tool_calls=[delta])
