"""Pieces of the OpenAI Chat Completions wire format that compatible APIs share.

Mistral, the OpenAI plugin's compatible servers (vLLM, LM Studio, Groq, ...)
and any new plugin for an OpenAI-shaped API speak the same body and stream
format with small differences (what ``content`` may hold, where the error
is, which finish reasons exist). A plugin imports these and keeps only its
differences: ``ChatCompletionsStreamParser`` is subclassed with the plugin's
error classifier, the response helpers are called from its ``parse.py``.
Sans-IO: bytes and dicts in, neutral types out.
"""

from __future__ import annotations

import json
from abc import abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, TypeGuard

from polyroute.errors import InvalidResponseError, ProviderError, StreamInterruptedError
from polyroute.providers.base import StreamEvent, StreamParser
from polyroute.providers.bodies import finish_from, load_json, loads, typed_parse, usage_of
from polyroute.trusted_models import trusted, trusted_dict
from polyroute.types import ChatChunk, FinishReason, ToolCallDelta, ToolCallPart, Usage

__all__ = [
    "ChatCompletionsStreamParser", "chat_usage", "first_choice", "is_map", "tool_arguments",
    "tool_call_delta", "tool_call_parts",
]


def is_map(value: Any) -> TypeGuard[Mapping[str, Any]]:
    # json.loads gives dicts: skip the ABC check for them (it is most of a parse's checks)
    return type(value) is dict or isinstance(value, Mapping)


def chat_usage(data: Any, *, provider: str = "", model: str = "") -> Usage | None:
    """``usage`` of a completion or of a stream chunk (``prompt_tokens``,
    ``completion_tokens``, the cached and reasoning details); ``None`` when absent,
    ``InvalidResponseError`` for a count that is not a whole number in range."""
    if not is_map(data):
        return None
    prompt = data.get("prompt_tokens_details")
    completion = data.get("completion_tokens_details")
    inp, out = data.get("prompt_tokens"), data.get("completion_tokens")
    read = prompt.get("cached_tokens") if is_map(prompt) else None
    thought = completion.get("reasoning_tokens") if is_map(completion) else None
    return usage_of(
        provider=provider, model=model,
        input_tokens=("prompt_tokens", inp),
        output_tokens=("completion_tokens", out),
        cache_read_tokens=("prompt_tokens_details.cached_tokens", read),
        reasoning_tokens=("completion_tokens_details.reasoning_tokens", thought),
    )


def tool_arguments(raw: Any, *, provider: str, model: str, name: str) -> dict[str, Any]:
    """A tool call's ``arguments`` (a JSON string; a few servers send an object) as a
    dict; ``InvalidResponseError`` if it is not a JSON object."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        value = json.loads(raw)
    except (TypeError, ValueError, RecursionError):
        raise InvalidResponseError(f"tool call '{name}' has arguments that are not JSON",
                                   provider=provider, model=model) from None
    if not isinstance(value, dict):
        raise InvalidResponseError(f"tool call '{name}' arguments are not a JSON object",
                                   provider=provider, model=model)
    return value


def tool_call_parts(
    raw: Any, *, provider: str, model: str, bad: Callable[[str], InvalidResponseError],
) -> list[ToolCallPart]:
    """``message.tool_calls`` as parts; ``bad(reason)`` is raised for a malformed list."""
    if not raw:
        return []
    if not isinstance(raw, list):
        raise bad("tool_calls is not a list")
    calls: list[ToolCallPart] = []
    for call in raw:
        fn = call.get("function") if is_map(call) else None
        if not is_map(fn) or not isinstance(fn.get("name"), str):
            raise bad("tool call without a function name")
        name = fn["name"]
        calls.append(ToolCallPart(
            id=str(call.get("id") or ""), name=name,
            arguments=tool_arguments(fn.get("arguments"), provider=provider, model=model,
                                     name=name),
        ))
    return calls


def first_choice(
    data: Any, bad: Callable[[str], InvalidResponseError],
) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """``(choices[0], choices[0].message)`` of a completion body; ``bad(reason)`` is
    raised when the body has neither."""
    if not is_map(data):
        raise bad("not a JSON object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices or not is_map(choices[0]):
        raise bad("no choices")
    choice = choices[0]
    msg = choice.get("message")
    if not is_map(msg):
        raise bad("choice has no message")
    return choice, msg


def tool_call_delta(call: Mapping[str, Any], position: int) -> ToolCallDelta:
    """One streamed ``delta.tool_calls`` item; ``position`` stands in for a missing
    ``index``. Object ``arguments`` (a few servers) are sent on as JSON text."""
    raw = call.get("function")
    fn: Mapping[str, Any] = raw if is_map(raw) else {}
    args = fn.get("arguments")
    index = call.get("index")
    return trusted(  # each value checked here
        ToolCallDelta,
        index=index if type(index) is int else position,
        id=call.get("id") if isinstance(call.get("id"), str) else None,
        name=fn.get("name") if isinstance(fn.get("name"), str) else None,
        arguments=args if isinstance(args, str) else (
            json.dumps(args) if isinstance(args, Mapping) else ""),
    )


class ChatCompletionsStreamParser(StreamParser):
    """One streamed chat completion: ``chat.completion.chunk`` SSE events, ended by
    ``data: [DONE]``.

    Subclasses give ``error`` (the plugin's classifier for an in-band error event);
    they may widen ``is_error``, ``delta_text``, ``finish`` and ``usage``. Only the
    first choice is kept: ``n > 1`` is not routed.
    """

    finish_reasons: ClassVar[Mapping[str, FinishReason]] = {
        "stop": "stop", "length": "length", "tool_calls": "tool_calls",
        "function_call": "tool_calls", "content_filter": "content_filter",
    }
    """The API's ``finish_reason`` values; another value is ``other``."""

    def __init__(self, *, provider: str, model: str) -> None:
        self.provider = provider
        self.model = model
        self.done = False
        self.response_id: str | None = None
        self.response_model: str | None = None

    @abstractmethod
    def error(self, payload: Mapping[str, Any]) -> ProviderError:
        """The classified error of an in-band error event."""

    def is_error(self, payload: Mapping[str, Any], event: StreamEvent) -> bool:
        return "error" in payload or event.event == "error"

    def delta_text(self, delta: Mapping[str, Any]) -> str:
        """The text of one ``delta``: its ``content`` (and a ``refusal``, shown as text)."""
        content, refusal = delta.get("content"), delta.get("refusal")
        return ((content if isinstance(content, str) else "")
                + (refusal if isinstance(refusal, str) else ""))

    def finish(self, value: Any) -> FinishReason | None:
        return finish_from(self.finish_reasons, value)

    def usage(self, data: Any) -> Usage | None:
        return chat_usage(data, provider=self.provider, model=self.model)

    @typed_parse
    def feed(self, event: StreamEvent) -> Iterable[ChatChunk]:
        data = event.data.strip()
        if self.done or not data:
            return []
        if data == "[DONE]":
            self.done = True
            return []
        try:
            payload = loads(data)
        except (ValueError, UnicodeError, RecursionError):  # load_json says what is wrong
            payload = load_json(data, provider=self.provider, model=self.model,
                                what="stream event")
        if not is_map(payload):
            raise InvalidResponseError(
                "stream event is not a JSON object", provider=self.provider, model=self.model
            )
        if self.is_error(payload, event):
            self.done = True
            raise self.error(payload)
        return self._chunk(payload)

    def _chunk(self, payload: Mapping[str, Any]) -> list[ChatChunk]:
        if isinstance(rid := payload.get("id"), str):
            self.response_id = rid
        if isinstance(named := payload.get("model"), str):
            self.response_model = named
        text = ""
        deltas: list[ToolCallDelta] = []
        finish = None
        choices = payload.get("choices") or []
        if not isinstance(choices, list):
            raise InvalidResponseError(
                "stream chunk 'choices' is not a list", provider=self.provider, model=self.model
            )
        for choice in choices:
            if not is_map(choice) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if is_map(delta):
                text += self.delta_text(delta)
                for call in delta.get("tool_calls") or []:
                    if is_map(call):
                        deltas.append(tool_call_delta(call, len(deltas)))
            # absent on all but the last event (finish and usage of None are None)
            if (reason := choice.get("finish_reason")) is not None:
                finish = self.finish(reason) or finish
        raw_usage = payload.get("usage")
        usage = None if raw_usage is None else self.usage(raw_usage)
        if not (text or deltas or finish or usage):
            return []
        # every value is checked above (text and ids are str, the finish reason comes
        # from the table, usage from token_count): not validated again, per event
        fields: dict[str, Any] = {"provider": self.provider, "model": self.model}
        if text:
            fields["text"] = text
        if deltas:
            fields["tool_calls"] = deltas
        if finish is not None:
            fields["finish_reason"] = finish
        if usage is not None:
            fields["usage"] = usage
        if self.response_id is not None:
            fields["response_id"] = self.response_id
        if self.response_model is not None:
            fields["response_model"] = self.response_model
        return [trusted_dict(ChatChunk, fields)]

    @typed_parse
    def close(self) -> Iterable[ChatChunk]:
        if not self.done:
            raise StreamInterruptedError(
                "stream ended before 'data: [DONE]'", provider=self.provider, model=self.model
            )
        return []
