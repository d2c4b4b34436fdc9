"""Cohere Chat v2 stream events → ``ChatChunk``s.

References: https://docs.cohere.com/docs/streaming (basic events) and
https://docs.cohere.com/docs/tool-use-streaming (tool events). A stream is
``message-start``; then ``content-start``/``content-delta``*/``content-end``
for text (or ``thinking``), or ``tool-plan-delta``* and, per call,
``tool-call-start``/``tool-call-delta``*/``tool-call-end``; ``citation-start``/
``citation-end`` may come between; ``message-end`` carries ``delta.finish_reason``
and ``delta.usage`` (``billed_units``, ``tokens``) and ends the stream. The
event type is the JSON ``type`` (the SSE ``event:`` name when it is absent).

A ``message-end`` whose ``delta.error`` is set (``finish_reason: ERROR``) is an
in-band error and raises ``ServerError``. A stream that ends before
``message-end`` raises ``StreamInterruptedError``. ``ToolCallDelta.index`` is
the event's ``index``; the tool plan accumulates in ``parser.tool_plan``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from polyroute.errors import ServerError
from polyroute.providers.base import StreamEvent
from polyroute.providers.bodies import typed_parse
from polyroute.providers.streams import JsonEventParser
from polyroute.types import ChatChunk, ToolCallDelta
from polyroute_cohere.parse import finish_reason, usage_from

__all__ = ["CohereStreamParser"]


def _message(data: Mapping[str, Any]) -> Mapping[str, Any]:
    delta = data.get("delta")
    msg = delta.get("message") if isinstance(delta, Mapping) else None
    return msg if isinstance(msg, Mapping) else {}


class CohereStreamParser(JsonEventParser):
    """Stateful decoder of one ``/v2/chat`` stream."""

    label: ClassVar[str] = "Cohere stream"

    def __init__(self, *, provider: str, model: str) -> None:
        super().__init__(provider=provider, model=model)
        self.tool_plan = ""
        self.thinking = ""
        self._started = False

    @typed_parse
    def feed(self, event: StreamEvent) -> Iterable[ChatChunk]:
        if self.done or not event.data.strip():
            return []
        data = self.load_object(event.data)
        kind = data.get("type", event.event)
        if kind == "message-start":
            self._started = True
            if isinstance(data.get("id"), str):
                self.response_id = data["id"]
            return []
        if kind == "content-delta":
            content = _message(data).get("content")
            if isinstance(content, Mapping):
                if isinstance(content.get("thinking"), str):
                    self.thinking += content["thinking"]
                elif isinstance(content.get("text"), str) and content["text"]:
                    return [self.chunk(text=content["text"])]
            return []
        if kind == "tool-plan-delta":
            plan = _message(data).get("tool_plan")
            self.tool_plan += plan if isinstance(plan, str) else ""
            return []
        if kind in ("tool-call-start", "tool-call-delta"):
            return self._tool(data, start=kind == "tool-call-start")
        if kind == "message-end":
            return self._end(data)
        return []  # content-start/-end, tool-call-end, citations, debug, future types

    @typed_parse
    def close(self) -> Iterable[ChatChunk]:
        if not self.done:
            raise self.broken("stream ended without message-end" if self._started
                               else "stream ended before message-start")
        return []

    def _tool(self, data: Mapping[str, Any], *, start: bool) -> list[ChatChunk]:
        call = _message(data).get("tool_calls")
        if isinstance(call, list):  # tolerate a one-item list
            call = call[0] if call else None
        if not isinstance(call, Mapping):
            raise self.broken(f"{data.get('type')} without delta.message.tool_calls")
        index = data.get("index")
        if not isinstance(index, int):
            raise self.broken(f"{data.get('type')} without an integer index")
        fn = call.get("function")
        fn = fn if isinstance(fn, Mapping) else {}
        args = fn.get("arguments")
        delta = ToolCallDelta(
            index=index,
            id=call.get("id") if start and isinstance(call.get("id"), str) else None,
            name=fn.get("name") if start and isinstance(fn.get("name"), str) else None,
            arguments=args if isinstance(args, str) else "",
        )
        if not start and not delta.arguments:
            return []
        return [self.chunk(tool_calls=[delta])]

    def _end(self, data: Mapping[str, Any]) -> list[ChatChunk]:
        self.done = True
        delta = data.get("delta")
        delta = delta if isinstance(delta, Mapping) else {}
        error = delta.get("error")
        if isinstance(error, str) and error:
            raise ServerError(f"in-band stream error: {error}", provider=self.provider,
                              model=self.model, error_type=str(delta.get("finish_reason")))
        return [self.chunk(finish_reason=finish_reason(delta.get("finish_reason")) or "stop",
                            usage=usage_from(delta.get("usage"), provider=self.provider,
                                             model=self.model))]
