"""polyroute answers and stream chunks → LlamaIndex responses (with token counts)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    MessageRole,
    TextBlock,
)

from polyroute.llamaindex.messages import (
    ToolCallBlock,
    openai_tool_calls,
    to_llamaindex,
)
from polyroute.llamaindex.tools import _kwargs
from polyroute.types import (
    ChatChunk,
    ToolCallPart,
    Usage,
    signatures_kwargs,
)
from polyroute.types import ChatResponse as RoutedResponse

if TYPE_CHECKING:
    pass


__all__ = ["chat_response"]


def _token_counts(usage: Usage) -> dict[str, int]:
    return {"prompt_tokens": usage.input_tokens, "completion_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens}


def _routing_info(resp: RoutedResponse) -> dict[str, Any]:
    return {
        "provider": resp.provider, "model": resp.model, "response_model": resp.response_model,
        "response_id": resp.response_id, "finish_reason": resp.finish_reason,
        "attempts": [a.model_dump(mode="json") for a in resp.attempts],
        "latency_ms": resp.latency_ms, "cost_usd": resp.cost_usd, "cache_hit": resp.cache_hit,
        "usage": resp.usage.model_dump(),
        # for RoutedLLM.feedback(response, score=...) and experiment analysis
        "call_id": resp.call_id, "experiment": resp.experiment, "variant": resp.variant,
    }


def chat_response(resp: RoutedResponse) -> ChatResponse:
    """A router answer as a LlamaIndex ``ChatResponse``.

    ``raw`` is the neutral answer as a dict: LlamaIndex's token counter reads
    ``raw["usage"]`` (``input_tokens``/``output_tokens``) from it.
    """
    return ChatResponse(
        message=to_llamaindex(resp.message),
        raw=resp.model_dump(mode="json"),
        additional_kwargs={**_token_counts(resp.usage), "polyroute": _routing_info(resp)},
    )


def _completion(resp: ChatResponse) -> CompletionResponse:
    return CompletionResponse(
        text=resp.message.content or "", delta=resp.delta, raw=resp.raw,
        additional_kwargs=dict(resp.additional_kwargs),
    )


class _StreamState:
    """Router chunks → cumulative LlamaIndex ``ChatResponse`` objects.

    Each response holds the whole message so far (text and tool calls, whose
    arguments may be partial JSON) and the new text in ``delta``; the last one,
    sent when the stream ends, adds usage and the routing record.
    """

    def __init__(self) -> None:
        self.text = ""
        self.calls: dict[int, list[str]] = {}  # index -> [id, name, arguments, signature]
        self.final: ChatChunk | None = None
        self.usage: Usage | None = None
        self.provider = ""
        self.model = ""

    def _message(self, *, final: bool) -> ChatMessage:
        blocks: list[Any] = [TextBlock(text=self.text)]
        calls = []
        for _, (call_id, name, args, signature) in sorted(self.calls.items()):
            parsed = _kwargs(args)
            calls.append(ToolCallPart(id=call_id or "", name=name, arguments=parsed,
                                      signature=signature or None))
            if ToolCallBlock is not None:
                blocks.append(ToolCallBlock(tool_call_id=call_id or None, tool_name=name,
                                            tool_kwargs=parsed if final else args))
        kwargs = ({"tool_calls": openai_tool_calls(calls), **signatures_kwargs(calls)}
                  if calls else {})
        return ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks, additional_kwargs=kwargs)

    def feed(self, chunk: ChatChunk) -> ChatResponse | None:
        self.provider = chunk.provider or self.provider
        self.model = chunk.model or self.model
        if chunk.usage is not None:
            self.usage = chunk.usage
        if chunk.attempts or chunk.finish_reason is not None:
            self.final = chunk
        if not chunk.text and not chunk.tool_calls:
            return None
        self.text += chunk.text
        for d in chunk.tool_calls:
            slot = self.calls.setdefault(d.index, ["", "", "", ""])
            slot[0] = d.id or slot[0]
            slot[1] = d.name or slot[1]
            slot[2] += d.arguments
            slot[3] = d.signature or slot[3]
        return ChatResponse(message=self._message(final=False), delta=chunk.text,
                            raw=chunk.model_dump(mode="json"))

    def last(self) -> ChatResponse:
        usage = self.usage or Usage()
        final = self.final
        info: dict[str, Any] = {
            "provider": self.provider, "model": self.model,
            "response_model": final.response_model if final else None,
            "response_id": final.response_id if final else None,
            "finish_reason": final.finish_reason if final else None,
            "attempts": [a.model_dump(mode="json") for a in final.attempts] if final else [],
            "latency_ms": final.latency_ms if final else None,
            "cost_usd": final.cost_usd if final else None,
            "cache_hit": bool(final and final.cache_hit),
            "usage": usage.model_dump(),
            "call_id": final.call_id if final else None,
            "experiment": final.experiment if final else None,
            "variant": final.variant if final else None,
        }
        return ChatResponse(
            message=self._message(final=True), delta="",
            raw={"usage": usage.model_dump(), "polyroute": info},
            additional_kwargs={**_token_counts(usage), "polyroute": info},
        )

