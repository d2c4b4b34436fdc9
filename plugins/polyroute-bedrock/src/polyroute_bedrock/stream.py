"""ConverseStream events (decoded from the AWS event stream) → ``ChatChunk``s.

Reference: https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStreamOutput.html
and its event types: ``messageStart`` (``role``), ``contentBlockStart``
(``contentBlockIndex``, ``start.toolUse.{toolUseId,name}``), ``contentBlockDelta``
(``delta.text`` | ``delta.toolUse.input`` — a fragment of the arguments JSON —
| ``delta.reasoningContent``), ``contentBlockStop``, ``messageStop``
(``stopReason``, ``additionalModelResponseFields``) and ``metadata`` (``usage``,
``metrics.latencyMs``, ``trace``); and the in-stream exceptions
``internalServerException``, ``modelStreamErrorException``,
``validationException``, ``throttlingException``, ``serviceUnavailableException``.

Each ``StreamEvent`` comes from ``AwsEventStreamFraming``: ``event`` is the
event or exception type and ``data`` its JSON payload.

Chunks: one at ``messageStart``; one per text delta; a ``ToolCallDelta`` with
id and name at a tool block's start (index = ``contentBlockIndex``), then one
per input fragment; the final chunk (finish reason and usage) at ``metadata``,
which follows ``messageStop``. If the body ends after ``messageStop`` without
``metadata`` the final chunk is still given (without usage); ending before
``messageStop`` raises ``StreamInterruptedError``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, ClassVar

from polyroute.providers.base import StreamEvent
from polyroute.providers.bodies import typed_parse
from polyroute.providers.streams import JsonEventParser
from polyroute.types import ChatChunk, ToolCallDelta, Usage
from polyroute_bedrock.errors import error_from_body
from polyroute_bedrock.parse import finish_reason, usage_from
from polyroute_bedrock.request import is_json_tool

__all__ = ["BedrockStreamParser"]


class BedrockStreamParser(JsonEventParser):
    """Stateful decoder of one ConverseStream response."""

    label: ClassVar[str] = "Bedrock stream"

    def __init__(self, *, provider: str, model: str, request_id: str | None = None) -> None:
        super().__init__(provider=provider, model=model)
        self.request_id = request_id
        self.response_id, self.response_model = request_id, model  # the body has no id
        self.stop_reason: str | None = None
        self.reasoning = ""
        self.metadata: dict[str, Any] = {}
        self._json_blocks: set[int] = set()
        self._started = False

    @typed_parse
    def feed(self, event: StreamEvent) -> Iterable[ChatChunk]:
        if self.done:
            return []
        kind = event.event or ""
        if event.id in ("exception", "error") or kind.endswith("Exception") or kind == "error":
            self.done = True
            raise self._exception(event)
        data = self.load_object(event.data, f"{kind} payload") if event.data.strip() else {}
        if kind == "messageStart":
            self._started = True
            return [self.chunk()]
        if kind == "contentBlockStart":
            return self._block_start(data)
        if kind == "contentBlockDelta":
            return self._delta(data)
        if kind == "messageStop":
            if not self._started:
                raise self.broken("messageStop before messageStart")
            reason = data.get("stopReason")
            self.stop_reason = reason if isinstance(reason, str) else "end_turn"
            if data.get("additionalModelResponseFields") is not None:
                self.metadata["additionalModelResponseFields"] = data[
                    "additionalModelResponseFields"]
            return []
        if kind == "metadata":
            for key in ("metrics", "trace"):
                if data.get(key) is not None:
                    self.metadata[key] = data[key]
            if self.stop_reason is None:
                raise self.broken("metadata before messageStop")
            return [self._final(usage_from(data.get("usage"), provider=self.provider,
                                               model=self.model))]
        return []  # contentBlockStop, and event types added after this was written

    @typed_parse
    def close(self) -> Iterable[ChatChunk]:
        if self.done:
            return []
        if self.stop_reason is not None:  # messageStop came, metadata did not
            return [self._final(None)]
        raise self.broken("stream ended without messageStop" if self._started
                           else "stream ended before messageStart")

    # --- events --------------------------------------------------------------

    def _block_start(self, data: dict[str, Any]) -> list[ChatChunk]:
        index = self._index(data)
        start = data.get("start")
        use = start.get("toolUse") if isinstance(start, dict) else None
        if not isinstance(use, dict):
            return []
        call_id, name = use.get("toolUseId"), use.get("name")
        if not isinstance(call_id, str) or not isinstance(name, str):
            raise self.broken("toolUse start without toolUseId or name")
        if is_json_tool(name):
            self._json_blocks.add(index)
            return []
        return [self.chunk(tool_calls=[ToolCallDelta(index=index, id=call_id, name=name)])]

    def _delta(self, data: dict[str, Any]) -> list[ChatChunk]:
        index = self._index(data)
        delta = data.get("delta")
        if not isinstance(delta, dict):
            raise self.broken("contentBlockDelta without a delta")
        if "text" in delta:
            text = delta["text"]
            if not isinstance(text, str):
                raise self.broken("text delta is not a string")
            return [self.chunk(text=text)] if text else []
        if "toolUse" in delta:
            use = delta["toolUse"]
            piece = use.get("input") if isinstance(use, dict) else None
            if not isinstance(piece, str):
                raise self.broken("toolUse delta without an input string")
            if not piece:
                return []
            if index in self._json_blocks:
                return [self.chunk(text=piece)]
            return [self.chunk(tool_calls=[ToolCallDelta(index=index, arguments=piece)])]
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict) and isinstance(reasoning.get("text"), str):
            self.reasoning += reasoning["text"]
        return []

    def _final(self, usage: Usage | None) -> ChatChunk:
        self.done = True
        reason = finish_reason(self.stop_reason, json_tool=bool(self._json_blocks))
        return self.chunk(finish_reason=reason, usage=usage)

    # --- helpers -------------------------------------------------------------

    def _exception(self, event: StreamEvent) -> Exception:
        kind = event.event or ""
        if kind == "error":  # :message-type error: code and message in headers
            try:
                info = json.loads(event.data)
            except (ValueError, RecursionError):
                info = {}
            code = str(info.get("errorCode") or "") or None
            body = json.dumps({"message": info.get("errorMessage") or "stream error"}).encode()
            return error_from_body(body, status=None, headers={}, provider=self.provider,
                                   model=self.model, error_type=code)
        return error_from_body(event.data.encode(), status=None, headers={},
                               provider=self.provider, model=self.model,
                               error_type=kind[:1].upper() + kind[1:] if kind else None)

    def _index(self, data: dict[str, Any]) -> int:
        index = data.get("contentBlockIndex")
        if not isinstance(index, int) or isinstance(index, bool):
            raise self.broken("event without an integer contentBlockIndex")
        return index
