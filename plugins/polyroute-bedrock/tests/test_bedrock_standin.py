"""BedrockResponder on a loopback StandinServer, driven through polyroute's ``Transport``.

The stand-in verifies SigV4 signatures with botocore, so these tests prove the
provider's signing (model id percent-encoding included) is what AWS accepts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from polyroute.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    OverloadedError,
    ProviderError,
    ProviderTimeoutError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from polyroute.providers.base import HttpRequest, HttpResponse, ProviderSettings
from polyroute.testing import wire
from polyroute.testing.standin import Fault, StandinServer
from polyroute.testing.streams import parse_events
from polyroute.types import (
    ChatChunk,
    ChatRequest,
    ChatResponse,
    GenerationParams,
    Message,
    ResponseFormat,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from polyroute_bedrock import BedrockProvider
from polyroute_bedrock.standin import BedrockResponder

pytestmark = pytest.mark.standin
AKID, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "ABSKstandin-bedrock-api-key-0123456789"
MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
TIMEOUTS = wire.Timeouts(connect=5, read=5, total=None)
SONG = ToolSpec(name="top_song", description="Most popular song on a station", parameters={
    "type": "object", "properties": {"sign": {"type": "string"}}, "required": ["sign"]})


@pytest.fixture(scope="module")
def server() -> Iterator[StandinServer]:
    responder = BedrockResponder(credentials=(AKID, SECRET), bearer_token=TOKEN)
    with StandinServer(responder) as srv:
        yield srv


@pytest.fixture
def prov(server: StandinServer) -> BedrockProvider:
    server.clear()
    return BedrockProvider(ProviderSettings(name="aws", type="bedrock", base_url=server.url,
                                            extra={"region": "us-east-1", "auth": "sigv4",
                                                   "aws_access_key_id": AKID,
                                                   "aws_secret_access_key": SECRET}))


def send(http: HttpRequest) -> HttpResponse:
    return wire.send(http, timeouts=TIMEOUTS)


def call(prov: BedrockProvider, req: ChatRequest) -> ChatResponse:
    resp = send(prov.build_request(req, MODEL, stream=False))
    if resp.status >= 300:
        raise prov.parse_error(resp, MODEL)
    return prov.parse_response(resp, MODEL)


content_type: list[str] = []


def stream(prov: BedrockProvider, req: ChatRequest) -> list[ChatChunk]:
    content_type.clear()
    reply = wire.open_stream(prov.build_request(req, MODEL, stream=True), timeouts=TIMEOUTS)
    if reply.error is not None:
        raise prov.parse_error(reply.error, MODEL)
    content_type.append(reply.headers["content-type"])
    return parse_events(prov.stream_parser(MODEL), reply.events)


def test_signed_text_answer(prov: BedrockProvider, server: StandinServer) -> None:
    resp = call(prov, ChatRequest(messages=[Message.system("Be brief."), Message.user("Hi!")]))
    assert resp.message.text == "Hello from the Bedrock stand-in: Hi!"
    assert resp.finish_reason == "stop" and resp.response_id
    sent = server.requests[-1]
    assert sent.path == "/model/us.anthropic.claude-haiku-4-5-20251001-v1%3A0/converse"
    assert sent.json()["system"] == [{"text": "Be brief."}]
    assert server.responder.auth_failures == []  # type: ignore[attr-defined]


def test_bad_secret_is_rejected_like_aws(server: StandinServer) -> None:
    wrong = BedrockProvider(ProviderSettings(name="aws", type="bedrock", base_url=server.url,
                                             extra={"region": "us-east-1",
                                                    "aws_access_key_id": AKID,
                                                    "aws_secret_access_key": "not-the-secret"}))
    with pytest.raises(AuthenticationError, match="InvalidSignatureException") as info:
        call(wrong, ChatRequest(messages=[Message.user("x")]))
    assert info.value.status == 403 and "not-the-secret" not in str(info.value)


def test_bearer_token(server: StandinServer) -> None:
    def make(key: str) -> BedrockProvider:
        return BedrockProvider(ProviderSettings(name="aws", type="bedrock", base_url=server.url,
                                                api_key=key, extra={"region": "us-east-1"}))
    assert call(make(TOKEN), ChatRequest(messages=[Message.user("x")])).message.text
    assert server.requests[-1].headers["authorization"] == f"Bearer {TOKEN}"
    with pytest.raises(AuthenticationError, match="UnrecognizedClientException"):
        call(make("ABSK-wrong-token-000000000"), ChatRequest(messages=[Message.user("x")]))


def test_streamed_equals_full(prov: BedrockProvider) -> None:
    req = ChatRequest(messages=[Message.user("stream me please")])
    full = call(prov, req)
    chunks = stream(prov, req)
    assert "".join(c.text for c in chunks) == full.message.text
    assert chunks[-1].finish_reason == "stop" and chunks[-1].usage == full.usage
    assert content_type == ["application/vnd.amazon.eventstream"]


def test_tool_use_round_trip(prov: BedrockProvider) -> None:
    req = ChatRequest(messages=[Message.user("Top song on WZPZ?")], tools=[SONG])
    resp = call(prov, req)
    [tc] = resp.message.tool_calls
    assert (tc.name, tc.arguments, resp.finish_reason) == ("top_song", {"sign": "example"},
                                                           "tool_calls")
    chunks = stream(prov, req)
    deltas = [d for c in chunks for d in c.tool_calls]
    assert deltas[0].id == tc.id and len(deltas) >= 3
    assert json.loads("".join(d.arguments for d in deltas)) == tc.arguments
    follow = call(prov, ChatRequest(tools=[SONG], messages=[
        Message.user("Top song on WZPZ?"),
        Message(role="assistant", content=[ToolCallPart(id=tc.id, name=tc.name,
                                                        arguments=tc.arguments)]),
        Message(role="tool", content=[ToolResultPart(tool_call_id=tc.id,
                                                     content="Elemental Hotel")])]))
    assert follow.message.text == "The tool returned: Elemental Hotel"


def test_json_emulation_end_to_end(prov: BedrockProvider) -> None:
    fmt = ResponseFormat(type="json_schema", name="Person", json_schema={
        "type": "object", "properties": {"name": {"type": "string"},
                                         "age": {"type": "integer"}}})
    req = ChatRequest(messages=[Message.user("Who?")], response_format=fmt)
    assert json.loads(call(prov, req).message.text) == {"name": "example", "age": 3}
    assert json.loads("".join(c.text for c in stream(prov, req))) == {"name": "example",
                                                                      "age": 3}


def test_max_tokens_and_stop(prov: BedrockProvider) -> None:
    cut = call(prov, ChatRequest(messages=[Message.user("one two")],
                                 params=GenerationParams(max_tokens=2)))
    assert (cut.message.text, cut.finish_reason) == ("Hello from", "length")
    stop = call(prov, ChatRequest(messages=[Message.user("one two")],
                                  params=GenerationParams(stop=[" two"])))
    assert stop.message.text == "Hello from the Bedrock stand-in: one"


def test_model_list(prov: BedrockProvider) -> None:
    assert prov.parse_models(send(prov.list_models_request())) == [
        "anthropic.claude-haiku-4-5-20251001-v1:0"]


@pytest.mark.parametrize(("status", "cls", "kind"), [
    (429, RateLimitError, "ThrottlingException"),
    (503, OverloadedError, "ServiceUnavailableException"),
    (500, ServerError, "InternalServerException"),
    (408, ProviderTimeoutError, "ModelTimeoutException"),
    (403, AuthenticationError, "AccessDeniedException"),
    (404, NotFoundError, "ResourceNotFoundException"),
    (400, BadRequestError, "ValidationException"),
])
def test_faults_in_bedrock_format(prov: BedrockProvider, server: StandinServer, status: int,
                                  cls: type[ProviderError], kind: str) -> None:
    server.push(Fault.status(status, retry_after=2, message="injected"))
    with pytest.raises(cls) as info:
        call(prov, ChatRequest(messages=[Message.user("x")]))
    err: Any = info.value
    assert type(err) is cls and err.error_type == kind and err.request_id
    assert (err.retry_after == 2.0) == (status in (429, 503, 500))


def test_in_band_exception_fault(prov: BedrockProvider, server: StandinServer) -> None:
    server.push(Fault.in_band_error(after_chunks=3, message="model stream broke"))
    with pytest.raises(ServerError, match="ModelStreamErrorException: model stream broke"):
        stream(prov, ChatRequest(messages=[Message.user("a b c d")]))


def test_truncated_stream(prov: BedrockProvider, server: StandinServer) -> None:
    server.push(Fault.truncate_stream(after_chunks=3))
    with pytest.raises(StreamInterruptedError, match="without messageStop"):
        stream(prov, ChatRequest(messages=[Message.user("a b c d")]))


def test_malformed_stream_body_fails_crc(prov: BedrockProvider, server: StandinServer) -> None:
    server.push(Fault.malformed())  # a JSON fragment where binary frames should be
    with pytest.raises(StreamInterruptedError, match="AWS event stream"):
        stream(prov, ChatRequest(messages=[Message.user("x")]))
