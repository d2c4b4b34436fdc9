"""Converse bodies, error classification and ConverseStream events from plain bytes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from polyroute.errors import (
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    ContextWindowError,
    InvalidResponseError,
    NotFoundError,
    OverloadedError,
    ProviderError,
    ProviderTimeoutError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from polyroute.providers.base import HttpResponse, ProviderSettings
from polyroute.testing.streams import parse_stream
from polyroute.types import ChatChunk
from polyroute_bedrock import AwsEventStreamFraming, BedrockProvider, encode_message
from polyroute_bedrock.standin import event_frame, exception_frame

PROV = BedrockProvider(ProviderSettings(name="aws", type="bedrock",
                                        extra={"region": "us-east-1", "auth": "bearer"}))
M = "anthropic.claude-3-5-haiku-20241022-v1:0"


def body(content: list[dict[str, Any]], stop: str = "end_turn", **kw: Any) -> HttpResponse:
    data = {"output": {"message": {"role": "assistant", "content": content}},
            "stopReason": stop, "usage": {"inputTokens": 10, "outputTokens": 4,
                                          "totalTokens": 14}, **kw}
    return HttpResponse(200, {"x-amzn-requestid": "req-1"}, json.dumps(data).encode())


def test_text_usage_metrics_and_request_id() -> None:
    out = PROV.parse_response(body([{"text": "Hel"}, {"text": "lo"}], metrics={"latencyMs": 9},
                                   usage={"inputTokens": 10, "outputTokens": 4,
                                          "cacheReadInputTokens": 100,
                                          "cacheWriteInputTokens": 5}), M)
    assert out.message.text == "Hello" and out.finish_reason == "stop"
    assert out.response_id == "req-1" and out.response_model == M
    assert (out.usage.input_tokens, out.usage.cache_read_tokens, out.usage.cache_write_tokens,
            out.usage.output_tokens) == (115, 100, 5, 4)
    assert out.provider_metadata["metrics"] == {"latencyMs": 9}


def test_tool_use_reasoning_and_json_tool() -> None:
    out = PROV.parse_response(body([
        {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "sig"}}},
        {"text": "Let me check."},
        {"toolUse": {"toolUseId": "tooluse_1", "name": "top_song", "input": {"sign": "WZPZ"}}},
    ], "tool_use"), M)
    [call] = out.message.tool_calls
    assert (call.id, call.name, call.arguments) == ("tooluse_1", "top_song", {"sign": "WZPZ"})
    assert out.finish_reason == "tool_calls" and out.message.text == "Let me check."
    assert out.provider_metadata["reasoning"][0]["reasoningText"]["text"] == "hmm"
    js = PROV.parse_response(body([{"text": "Here:"}, {"toolUse": {
        "toolUseId": "t", "name": "structured_output__A", "input": {"n": 1}}}], "tool_use"), M)
    assert json.loads(js.message.text) == {"n": 1} and js.finish_reason == "stop"
    assert js.provider_metadata["discarded_text"] == "Here:"


@pytest.mark.parametrize(("stop", "reason"), [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"),
    ("model_context_window_exceeded", "length"), ("guardrail_intervened", "content_filter"),
    ("content_filtered", "content_filter"), ("malformed_tool_use", "other")])
def test_stop_reasons(stop: str, reason: str) -> None:
    assert PROV.parse_response(body([{"text": "x"}], stop), M).finish_reason == reason


@pytest.mark.parametrize("bad", [b"nope", b"[]", b'{"output": {}}',
                                 b'{"output": {"message": {"content": [{"text": 1}]}}}',
                                 b'{"output": {"message": {"content": [{"toolUse": {}}]}}}'])
def test_malformed(bad: bytes) -> None:
    with pytest.raises(InvalidResponseError):
        PROV.parse_response(HttpResponse(200, {}, bad), M)


@pytest.mark.parametrize(("status", "kind", "message", "cls"), [
    (429, "ThrottlingException", "Too many requests, please wait before trying again.",
     RateLimitError),
    (400, "ServiceQuotaExceededException", "quota exceeded", QuotaExceededError),
    (429, "ModelNotReadyException", "Model is not ready for inference.", OverloadedError),
    (408, "ModelTimeoutException", "Model has timed out", ProviderTimeoutError),
    (424, "ModelErrorException", "The model failed", ServerError),
    (500, "InternalServerException", "internal error", ServerError),
    (503, "ServiceUnavailableException", "Bedrock is unable to process your request.",
     OverloadedError),
    (400, "ValidationException", "Input is too long for requested model.", ContextWindowError),
    (400, "ValidationException", "prompt is too long: 210000 tokens > 200000 maximum",
     ContextWindowError),
    (400, "ValidationException", "Output blocked by content filtering policy",
     ContentPolicyError),
    (400, "ValidationException", "messages: roles must alternate", BadRequestError),
    (403, "AccessDeniedException", "You don't have access to the model", AuthenticationError),
    (403, "UnrecognizedClientException", "The security token included in the request is "
     "invalid.", AuthenticationError),
    (403, "ExpiredTokenException", "The security token included in the request is expired",
     AuthenticationError),
    (404, "ResourceNotFoundException", "Model not found", NotFoundError),
    (502, None, "bad gateway", ServerError),
])
def test_error_classification(status: int, kind: str | None, message: str,
                              cls: type[ProviderError]) -> None:
    headers = {"x-amzn-requestid": "rid-9", "retry-after": "2"}
    if kind:
        headers["x-amzn-errortype"] = f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/"
    err = PROV.parse_error(HttpResponse(status, headers, json.dumps(
        {"message": message}).encode()), M)
    assert type(err) is cls
    assert err.error_type == kind and err.request_id == "rid-9" and err.status == status
    assert message in err.reason
    assert (err.retry_after == 2.0) == issubclass(cls, (RateLimitError, ServerError))


def test_error_type_from_body_when_no_header() -> None:
    raw = b'{"__type": "com.amazon.coral.service#ThrottlingException", "Message": "slow"}'
    err = PROV.parse_error(HttpResponse(400, {}, raw), M)
    assert type(err) is RateLimitError and err.reason == "ThrottlingException: slow"
    assert type(PROV.parse_error(HttpResponse(503, {}, b""), M)) is OverloadedError


# --- streams -----------------------------------------------------------------

def run(raw: bytes, step: int | None = None) -> tuple[list[ChatChunk], Any]:
    parser = PROV.stream_parser(M)
    return parse_stream(parser, raw, framing=AwsEventStreamFraming(), step=step), parser


def delta(i: int, d: dict[str, Any]) -> bytes:
    return event_frame("contentBlockDelta", {"contentBlockIndex": i, "delta": d})


START = event_frame("messageStart", {"role": "assistant"})
META = event_frame("metadata", {"usage": {"inputTokens": 7, "outputTokens": 3,
                                          "cacheReadInputTokens": 2},
                                "metrics": {"latencyMs": 5}})


@pytest.mark.parametrize("step", [None, 1, 17])
def test_stream_text(step: int | None) -> None:
    raw = (START + delta(0, {"text": "Hi"}) + delta(0, {"text": " there"})
           + delta(0, {"reasoningContent": {"text": "thinking"}})
           + event_frame("contentBlockStop", {"contentBlockIndex": 0})
           + event_frame("messageStop", {"stopReason": "end_turn"}) + META)
    chunks, parser = run(raw, step)
    assert "".join(c.text for c in chunks) == "Hi there"
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage is not None and (chunks[-1].usage.input_tokens,
                                             chunks[-1].usage.output_tokens) == (9, 3)
    assert parser.reasoning == "thinking" and parser.metadata["metrics"] == {"latencyMs": 5}


def test_stream_tool_use_and_json_tool() -> None:
    raw = (START + event_frame("contentBlockStart", {"contentBlockIndex": 1, "start": {
        "toolUse": {"toolUseId": "tooluse_1", "name": "top_song"}}})
        + delta(1, {"toolUse": {"input": '{"sign"'}})
        + delta(1, {"toolUse": {"input": ': "WZPZ"}'}})
        + event_frame("messageStop", {"stopReason": "tool_use"}) + META)
    chunks, _ = run(raw)
    deltas = [d for c in chunks for d in c.tool_calls]
    assert (deltas[0].index, deltas[0].id, deltas[0].name) == (1, "tooluse_1", "top_song")
    assert json.loads("".join(d.arguments for d in deltas)) == {"sign": "WZPZ"}
    assert chunks[-1].finish_reason == "tool_calls"
    js = (START + event_frame("contentBlockStart", {"contentBlockIndex": 0, "start": {
        "toolUse": {"toolUseId": "t", "name": "structured_output__A"}}})
        + delta(0, {"toolUse": {"input": '{"n": 1}'}})
        + event_frame("messageStop", {"stopReason": "tool_use"}) + META)
    chunks, _ = run(js)
    assert "".join(c.text for c in chunks) == '{"n": 1}' and chunks[-1].finish_reason == "stop"


@pytest.mark.parametrize(("kind", "cls"), [
    ("throttlingException", RateLimitError), ("modelStreamErrorException", ServerError),
    ("validationException", BadRequestError), ("serviceUnavailableException", OverloadedError),
    ("internalServerException", ServerError), ("someNewException", StreamInterruptedError)])
def test_stream_exceptions(kind: str, cls: type[ProviderError]) -> None:
    with pytest.raises(cls) as info:
        run(START + delta(0, {"text": "a"}) + exception_frame(kind, "went wrong"))
    assert type(info.value) is cls and info.value.status is None
    assert "went wrong" in info.value.reason and info.value.provider == "aws"


def test_stream_context_overflow_exception_and_error_message() -> None:
    with pytest.raises(ContextWindowError):
        run(START + exception_frame("validationException", "Input is too long for requested "
                                                           "model."))
    error = encode_message({":message-type": "error", ":error-code": "InternalFailure",
                            ":error-message": "boom"}, b"")
    with pytest.raises(StreamInterruptedError, match="InternalFailure: boom"):
        run(START + error)


def test_stream_endings() -> None:
    chunks, _ = run(START + delta(0, {"text": "a"})
                    + event_frame("messageStop", {"stopReason": "max_tokens"}))
    assert chunks[-1].finish_reason == "length" and chunks[-1].usage is None  # no metadata
    with pytest.raises(StreamInterruptedError, match="without messageStop"):
        run(START + delta(0, {"text": "a"}))
    with pytest.raises(StreamInterruptedError, match="before messageStart"):
        run(b"")
    with pytest.raises(StreamInterruptedError, match="metadata before messageStop"):
        run(START + META)
    with pytest.raises(StreamInterruptedError, match="inside a message"):
        run(START + delta(0, {"text": "abc"})[:-3])
