"""Bedrock Converse / ConverseStream: botocore (1.44.8, via boto3) as the oracle.

Responses: a ``bedrock-runtime`` client (``endpoint_url``) is pointed at
``BedrockResponder``; botocore parses every answer, decodes every binary event-stream
frame with its own decoder, and raises a ``ClientError`` for every error, named by the
``x-amzn-ErrorType`` it read. Each raw body and event payload is walked against the
service model's output shape (``shape_problems``: undeclared or missing required members,
enum values, types), since botocore's parser drops what it does not know silently.
Requests: the body ``BedrockProvider`` builds (with ``modelId`` from the URL) passes
botocore's ``ParamValidator`` against the ``Converse`` / ``ConverseStream`` input shape,
and equals the body botocore serialises for the same parameters.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest

boto3 = pytest.importorskip("boto3")

import botocore.config
import botocore.eventstream
import botocore.exceptions
from botocore.model import Shape
from botocore.validate import ParamValidator
from sdk_oracle import Recording, scenarios, sent_differences, shape_problems

from polyroute.providers.base import HttpResponse, ProviderSettings
from polyroute.secrets import Secret
from polyroute.testing.standin import Fault, StandinServer
from polyroute_bedrock import BedrockProvider
from polyroute_bedrock.standin import BedrockResponder

MODEL = "anthropic.claude-haiku-4-5-20251001-v1:0"
TOKEN = "bedrock-api-key-conformance-0000"
CASES = scenarios()


@pytest.fixture
def server() -> Iterator[StandinServer]:
    with StandinServer(Recording(BedrockResponder())) as s:
        yield s


@pytest.fixture
def client(server: StandinServer) -> Any:
    return boto3.client("bedrock-runtime", endpoint_url=server.url, region_name="us-east-1",
                        aws_access_key_id="AKIDCONFORMANCE0000", aws_secret_access_key="s3cr3t",
                        config=botocore.config.Config(retries={"total_max_attempts": 1}))


def _provider(server: StandinServer) -> BedrockProvider:
    return BedrockProvider(ProviderSettings(name="aws", type="bedrock", base_url=server.url,
                                            api_key=Secret(TOKEN),
                                            extra={"region": "us-east-1"}))


def _rec(server: StandinServer) -> Recording:
    assert isinstance(server.responder, Recording)
    return server.responder


def _op(client: Any, name: str) -> Any:
    return client.meta.service_model.operation_model(name)


def _params(server: StandinServer, case: str, stream: bool) -> dict[str, Any]:
    """Our request as boto3 parameters: the body, ``modelId`` from the URL path, and
    image bytes decoded (botocore takes ``bytes`` for a blob and base64s it itself)."""
    req = _provider(server).build_request(CASES[case], MODEL, stream=stream)
    model_id = unquote(req.url.split("/model/", 1)[1].rsplit("/", 1)[0])
    return {"modelId": model_id, **_blobs(req.json, decode=True)}


def _blobs(node: Any, *, decode: bool) -> Any:
    if isinstance(node, dict):
        return {k: (base64.b64decode(v) if decode and k == "bytes" and isinstance(v, str)
                    else _blobs(v, decode=decode)) for k, v in node.items()}
    if isinstance(node, list):
        return [_blobs(v, decode=decode) for v in node]
    return node


def _output(client: Any, op: str) -> Shape:
    return _op(client, op).output_shape


# --- our responses are theirs -------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
def test_botocore_parses_our_answer(server: StandinServer, client: Any, case: str) -> None:
    res = client.converse(**_params(server, case, False))
    raw = json.loads(_rec(server).last_body())
    assert shape_problems(_output(client, "Converse"), raw) == []
    assert res["output"]["message"]["role"] == "assistant"
    assert res["usage"]["inputTokens"] == raw["usage"]["inputTokens"]
    if case == "tools":
        assert res["stopReason"] == "tool_use"
        assert res["output"]["message"]["content"][0]["toolUse"]["name"] == "get_weather"


@pytest.mark.parametrize("case", sorted(CASES))
def test_botocore_decodes_our_event_stream(server: StandinServer, client: Any,
                                           case: str) -> None:
    res = client.converse_stream(**_params(server, case, True))
    events = list(res["stream"])
    buffer = botocore.eventstream.EventStreamBuffer()  # botocore's own frame decoder
    buffer.add_data(b"".join(_rec(server).last.chunks or []))
    frames = list(buffer)
    assert [next(iter(e)) for e in events] == [f.headers[":event-type"] for f in frames]
    stream_shape = _output(client, "ConverseStream").members["stream"]
    for frame in frames:
        name = frame.headers[":event-type"]
        assert name in stream_shape.members, f"{name} is not a ConverseStream event"
        problems = shape_problems(stream_shape.members[name], json.loads(frame.payload),
                                  f"$.{name}")
        assert problems == []
    assert "metadata" in events[-1] and events[-1]["metadata"]["usage"]["outputTokens"] >= 1


@pytest.mark.parametrize("status", [400, 403, 404, 408, 424, 429, 500, 503])
def test_botocore_classifies_our_errors(server: StandinServer, client: Any,
                                        status: int) -> None:
    server.push(Fault.status(status, message=f"boom {status}"))
    with pytest.raises(botocore.exceptions.ClientError) as info:
        client.converse(**_params(server, "text", False))
    err = info.value.response["Error"]
    assert err["Message"] == f"boom {status}"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    # the error type we name is one the Converse operation declares
    declared = {s.name for s in _op(client, "Converse").error_shapes}
    assert err["Code"] in declared, (err["Code"], sorted(declared))
    reply = _rec(server).last
    assert _provider(server).parse_error(
        HttpResponse(status, reply.headers, reply.body or b""), MODEL).status == status


def test_botocore_raises_our_in_band_stream_error(server: StandinServer, client: Any) -> None:
    server.push(Fault.in_band_error(after_chunks=2, message="model failed"))
    res = client.converse_stream(**_params(server, "text", True))
    with pytest.raises(botocore.exceptions.EventStreamError, match="model failed") as info:
        list(res["stream"])
    declared = set(_output(client, "ConverseStream").members["stream"].members)
    assert info.value.response["Error"]["Code"] in declared


# --- our requests are theirs --------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("case", sorted(CASES))
def test_our_body_passes_botocores_param_validator(server: StandinServer, client: Any,
                                                   case: str, stream: bool) -> None:
    op = _op(client, "ConverseStream" if stream else "Converse")
    report = ParamValidator().validate(_params(server, case, stream), op.input_shape)
    assert not report.has_errors(), report.generate_report()


@pytest.mark.parametrize("case", sorted(CASES))
def test_botocore_sends_our_body(server: StandinServer, client: Any, case: str) -> None:
    ours = _provider(server).build_request(CASES[case], MODEL, stream=False)
    client.converse(**_params(server, case, False))
    sent = server.requests[-1]
    assert ours.url == server.url + sent.path
    assert sent_differences(json.loads(sent.body), ours.json) == []


def test_the_validator_catches_a_misspelt_member(client: Any) -> None:
    bad = {"modelId": MODEL, "messages": [{"role": "user", "content": [{"txt": "hi"}]}]}
    report = ParamValidator().validate(bad, _op(client, "Converse").input_shape)
    assert report.has_errors() and "txt" in report.generate_report()


def test_the_shape_walk_catches_an_undeclared_member_and_a_bad_enum(client: Any) -> None:
    body = {"output": {"message": {"role": "assistant", "content": [{"text": "hi"}]}},
            "stopReason": "done", "usage": {"inputTokens": 1, "outputTokens": 1,
                                            "totalTokens": 2, "cachedTokens": 0},
            "metrics": {"latencyMs": 1}}
    problems = shape_problems(_output(client, "Converse"), body)
    assert any("stopReason" in p for p in problems)
    assert any("cachedTokens: not a member" in p for p in problems)
