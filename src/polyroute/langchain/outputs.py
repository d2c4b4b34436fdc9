"""Router results → LangChain outputs.

A ``ChatResponse`` becomes one ``AIMessage``; a stream of ``ChatChunk`` becomes
``AIMessageChunk`` objects, text and tool-call fragments as they arrive, then
one closing chunk (``chunk_position="last"``) carrying usage and metadata.

``response_metadata`` carries what LangChain and LangSmith read —
``model_provider``, ``model_name`` (the model that really answered),
``finish_reason`` — and under ``polyroute`` what the router did: the provider
that answered, the attempts, latency, cost and whether the answer came from
the cache.

``model_provider`` is ``"polyroute"``, not the answering provider: LangChain's
v1 content-block translators key off it and read ``content`` in *that
provider's native shape* (langchain-openai sets ``"openai"`` for its own
shape). Our content is always polyroute's neutral shape — a text string plus
``tool_calls`` — whoever answered; under ``"anthropic"`` the Anthropic
translator would look for ``tool_use`` blocks and drop the tool calls. With
no translator registered for ``"polyroute"``, LangChain's generic parsing
reads the neutral shape correctly.
"""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.messages.ai import InputTokenDetails, OutputTokenDetails, UsageMetadata
from langchain_core.messages.tool import tool_call, tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from polyroute.types import (
    SIGNATURES_KEY,
    Attempt,
    ChatChunk,
    ChatResponse,
    FinishReason,
    Usage,
    signatures_kwargs,
)

__all__ = ["MODEL_PROVIDER", "StreamState", "chat_result", "usage_metadata"]

MODEL_PROVIDER = "polyroute"


def usage_metadata(usage: Usage) -> UsageMetadata:
    """polyroute ``Usage`` as LangChain ``UsageMetadata`` (input includes cache tokens)."""
    return UsageMetadata(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
        input_token_details=InputTokenDetails(
            cache_read=usage.cache_read_tokens, cache_creation=usage.cache_write_tokens
        ),
        output_token_details=OutputTokenDetails(reasoning=usage.reasoning_tokens),
    )


def _metadata(
    *,
    provider: str,
    model: str,
    response_model: str | None,
    finish_reason: FinishReason | None,
    attempts: list[Attempt],
    latency_ms: float | None,
    cost_usd: float | None,
    cache_hit: bool,
    response_id: str | None,
    call_id: str | None = None,
    experiment: str | None = None,
    variant: str | None = None,
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "model_provider": MODEL_PROVIDER,
        "model_name": response_model or model,
        "finish_reason": finish_reason,
        "polyroute": {
            "provider": provider,
            "model": model,
            "response_model": response_model,
            "response_id": response_id,
            "attempts": [a.model_dump(mode="json") for a in attempts],
            "latency_ms": latency_ms,
            "cost_usd": cost_usd,
            "cache_hit": cache_hit,
            # for RoutedChatModel.feedback(message, score=...) and experiment analysis
            "call_id": call_id,
            "experiment": experiment,
            "variant": variant,
        },
    }
    if response_id:
        meta["id"] = response_id
    return meta


def chat_result(response: ChatResponse) -> ChatResult:
    """A router response as a LangChain ``ChatResult`` holding one ``AIMessage``."""
    msg = response.message
    calls = [tool_call(name=p.name, args=p.arguments, id=p.id) for p in msg.tool_calls]
    meta = _metadata(
        provider=response.provider, model=response.model,
        response_model=response.response_model, finish_reason=response.finish_reason,
        attempts=response.attempts, latency_ms=response.latency_ms,
        cost_usd=response.cost_usd, cache_hit=response.cache_hit,
        response_id=response.response_id, call_id=response.call_id,
        experiment=response.experiment, variant=response.variant,
    )
    message = AIMessage(
        content=msg.text,
        tool_calls=calls,
        additional_kwargs=signatures_kwargs(msg.tool_calls),
        usage_metadata=usage_metadata(response.usage),
        response_metadata=meta,
        **({"id": response.response_id} if response.response_id else {}),
    )
    info: dict[str, Any] = {"finish_reason": response.finish_reason}
    return ChatResult(
        generations=[ChatGeneration(message=message, generation_info=info)],
        llm_output={
            "model_name": meta["model_name"],
            "model_provider": meta["model_provider"],
            "token_usage": response.usage.model_dump(),
            "cost_usd": response.cost_usd,
        },
    )


class StreamState:
    """Turns router chunks into LangChain chunks; remembers what the closing chunk needs.

    Text and tool-call fragments are passed on at once. Finish reason, usage,
    attempts and the answering model are collected from whichever chunks carry
    them and sent once, on a closing chunk with ``chunk_position="last"`` — so
    input tokens are counted once and tool-call fragments get parsed.
    """

    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.finish_reason: FinishReason | None = None
        self.attempts: list[Attempt] = []
        self.provider = ""
        self.model = ""
        self.response_model: str | None = None
        self.response_id: str | None = None
        self.cost_usd: float | None = None
        self.latency_ms: float | None = None
        self.cache_hit = False
        self.call_id: str | None = None
        self.experiment: str | None = None
        self.variant: str | None = None

    def feed(self, chunk: ChatChunk) -> ChatGenerationChunk | None:
        """The LangChain chunk for ``chunk``'s content, or ``None`` if it has none."""
        self.provider = chunk.provider or self.provider
        self.model = chunk.model or self.model
        self.response_model = chunk.response_model or self.response_model
        self.response_id = self.response_id or chunk.response_id
        if chunk.finish_reason is not None:
            self.finish_reason = chunk.finish_reason
        if chunk.usage is not None:
            self.usage = chunk.usage if self.usage is None else self.usage + chunk.usage
        if chunk.attempts:
            self.attempts = list(chunk.attempts)
        # Read if the router puts them on the final chunk (not in every version).
        self.cost_usd = chunk.cost_usd if chunk.cost_usd is not None else self.cost_usd
        self.latency_ms = chunk.latency_ms if chunk.latency_ms is not None else self.latency_ms
        self.cache_hit = chunk.cache_hit or self.cache_hit
        self.call_id = chunk.call_id or self.call_id
        self.experiment = chunk.experiment or self.experiment
        self.variant = chunk.variant or self.variant
        if not chunk.text and not chunk.tool_calls:
            return None
        fragments = [
            tool_call_chunk(name=d.name, args=d.arguments, id=d.id, index=d.index)
            for d in chunk.tool_calls
        ]
        # Each signature arrives on one fragment, so the chunks' dicts merge cleanly.
        signed = {d.id: d.signature for d in chunk.tool_calls if d.id and d.signature}
        return ChatGenerationChunk(
            message=AIMessageChunk(
                content=chunk.text,
                tool_call_chunks=fragments,
                additional_kwargs={SIGNATURES_KEY: signed} if signed else {},
                **({"id": self.response_id} if self.response_id else {}),
            )
        )

    def last(self) -> ChatGenerationChunk:
        """The closing chunk: usage, metadata and ``chunk_position="last"``."""
        meta = _metadata(
            provider=self.provider, model=self.model, response_model=self.response_model,
            finish_reason=self.finish_reason, attempts=self.attempts,
            latency_ms=self.latency_ms,
            cost_usd=self.cost_usd, cache_hit=self.cache_hit, response_id=self.response_id,
            call_id=self.call_id, experiment=self.experiment, variant=self.variant,
        )
        message = AIMessageChunk(
            content="",
            usage_metadata=usage_metadata(self.usage or Usage()),
            response_metadata=meta,
            chunk_position="last",
            **({"id": self.response_id} if self.response_id else {}),
        )
        return ChatGenerationChunk(
            message=message, generation_info={"finish_reason": self.finish_reason}
        )
