"""Request translation, region and endpoint, SigV4 / bearer auth, secret hygiene."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from polyroute.errors import BadRequestError, ConfigError, MissingSecretError
from polyroute.providers.base import ProviderSettings
from polyroute.secrets import redact
from polyroute.types import (
    ChatRequest,
    GenerationParams,
    ImagePart,
    Message,
    NamedToolChoice,
    ResponseFormat,
    TextPart,
    ToolCallPart,
    ToolResultPart,
    ToolSpec,
)
from polyroute_bedrock import BedrockProvider
from polyroute_bedrock.request import model_family

AKID = "AKIAIOSFODNN7EXAMPLE"  # the AWS documentation's example key pair
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"
TOKEN = "ABSKQmVkcm9ja0FQSUtleS1FWEFNUExFLXRva2VuLTAxMjM0NTY3ODk="
STATIC = {"region": "us-east-1", "aws_access_key_id": AKID, "aws_secret_access_key": SECRET}
TOOL = ToolSpec(name="top_song", description="Get the most popular song played on a radio "
                "station.", parameters={"type": "object", "properties": {
                    "sign": {"type": "string"}}, "required": ["sign"]})


def make(**kw: Any) -> BedrockProvider:
    kw.setdefault("extra", dict(STATIC))
    return BedrockProvider(ProviderSettings(name="aws", type="bedrock", **kw))


def body(req: ChatRequest, model: str = HAIKU) -> dict[str, Any]:
    http = make().build_request(req, model, stream=False)
    assert http.content is not None
    data: dict[str, Any] = json.loads(http.content)
    assert data == http.json
    return data


def test_url_region_and_framing(monkeypatch: pytest.MonkeyPatch) -> None:
    req = ChatRequest(messages=[Message.user("hi")])
    http = make().build_request(req, HAIKU, stream=False)
    assert http.url == ("https://bedrock-runtime.us-east-1.amazonaws.com/model/"
                        "anthropic.claude-3-5-haiku-20241022-v1%3A0/converse")
    assert http.headers["accept"] == "application/json" and http.framing is None
    streamed = make().build_request(req, "arn:aws:bedrock:us-east-1:123:inference-profile/x",
                                    stream=True)
    assert streamed.url.endswith("/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123%3Ainference-"
                                 "profile%2Fx/converse-stream")
    assert streamed.framing == "aws-eventstream"
    assert streamed.headers["accept"] == "application/vnd.amazon.eventstream"
    monkeypatch.setenv("AWS_REGION", "eu-west-3")
    other = make(extra={k: v for k, v in STATIC.items() if k != "region"})
    assert other.base_url == "https://bedrock-runtime.eu-west-3.amazonaws.com"
    assert make(base_url="https://vpce-1.bedrock-runtime.us-west-2.vpce.amazonaws.com/"
                ).base_url == "https://vpce-1.bedrock-runtime.us-west-2.vpce.amazonaws.com"


def test_region_from_endpoint_or_missing() -> None:
    fips = make(base_url="https://bedrock-runtime-fips.us-west-2.amazonaws.com",
                extra={"auth": "bearer"})
    assert fips.region == "us-west-2"
    bare = make(extra={"auth": "bearer"}, api_key=TOKEN)
    with pytest.raises(ConfigError, match="no AWS region"):
        _ = bare.region
    assert bare.is_configured() == "provider 'aws' has no AWS region"


def test_messages_system_and_alternation() -> None:
    req = ChatRequest(messages=[
        Message.system("You are terse."), Message.user("a"), Message.user("b"),
        Message(role="assistant", content=[TextPart(text="calling"), ToolCallPart(
            id="tooluse_1", name="top_song", arguments={"sign": "WZPZ"})]),
        Message(role="tool", content=[ToolResultPart(tool_call_id="tooluse_1",
                                                     content="Elemental Hotel")]),
        Message.user("thanks"), Message.system("Answer in English."),
    ], tools=[TOOL])
    out = body(req)
    assert out["system"] == [{"text": "You are terse."}, {"text": "Answer in English."}]
    assert out["messages"] == [
        {"role": "user", "content": [{"text": "a"}, {"text": "b"}]},
        {"role": "assistant", "content": [{"text": "calling"}, {"toolUse": {
            "toolUseId": "tooluse_1", "name": "top_song", "input": {"sign": "WZPZ"}}}]},
        {"role": "user", "content": [
            {"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "Elemental Hotel"}]}},
            {"text": "thanks"}]},
    ]
    assert out["toolConfig"] == {"tools": [{"toolSpec": {
        "name": "top_song", "description": TOOL.description,
        "inputSchema": {"json": TOOL.parameters}}}]}  # auto: no toolChoice sent


def test_error_results_and_plain_tool_text() -> None:
    out = body(ChatRequest(messages=[Message(role="tool", content=[
        ToolResultPart(tool_call_id="t", content="boom", is_error=True)])]))
    assert out["messages"][0]["content"][0]["toolResult"]["status"] == "error"
    with pytest.raises(BadRequestError, match="ToolResultPart"):
        body(ChatRequest(messages=[Message(role="tool", content="x")]))


def test_inference_config_top_k_and_extra() -> None:
    params = GenerationParams(max_tokens=512, temperature=0.5, top_p=0.9, stop=["END"], top_k=40,
                              seed=1, frequency_penalty=0.2, extra={
                                  "guardrailConfig": {"guardrailIdentifier": "gr-1",
                                                      "guardrailVersion": "1"},
                                  "anthropic_beta": ["x"]})
    out = body(ChatRequest(messages=[Message.user("x")], params=params))
    assert out["inferenceConfig"] == {"maxTokens": 512, "temperature": 0.5, "topP": 0.9,
                                      "stopSequences": ["END"]}
    assert out["additionalModelRequestFields"] == {"top_k": 40, "anthropic_beta": ["x"]}
    assert out["guardrailConfig"]["guardrailIdentifier"] == "gr-1"
    assert "seed" not in json.dumps(out)
    nova = body(ChatRequest(messages=[Message.user("x")], params=GenerationParams(top_k=5)),
                "us.amazon.nova-lite-v1:0")
    assert nova["additionalModelRequestFields"] == {"inferenceConfig": {"topK": 5}}
    cohere = body(ChatRequest(messages=[Message.user("x")], params=GenerationParams(top_k=5)),
                  "cohere.command-r-v1:0")
    assert cohere["additionalModelRequestFields"] == {"k": 5}


@pytest.mark.parametrize(("model", "family"), [
    (HAIKU, "anthropic"), ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic"),
    ("global.amazon.nova-pro-v1:0", "amazon"), ("us-gov.meta.llama3-1-8b-instruct-v1:0", "meta"),
    ("arn:aws:bedrock:us-east-1::foundation-model/mistral.mistral-large-2407-v1:0", "mistral"),
    ("my-custom-model", ""),
])
def test_model_family(model: str, family: str) -> None:
    assert model_family(model) == family


def test_tool_choices() -> None:
    base: dict[str, Any] = {"messages": [Message.user("x")], "tools": [TOOL]}
    assert body(ChatRequest(**base, tool_choice="required"))["toolConfig"]["toolChoice"] == {
        "any": {}}
    assert body(ChatRequest(**base, tool_choice=NamedToolChoice(name="top_song")))[
        "toolConfig"]["toolChoice"] == {"tool": {"name": "top_song"}}
    assert "toolConfig" not in body(ChatRequest(**base, tool_choice="none"))


def test_json_output_is_a_forced_tool() -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    fmt = ResponseFormat(type="json_schema", name="My Answer", json_schema=schema)
    out = body(ChatRequest(messages=[Message.user("x")], response_format=fmt))
    [spec] = out["toolConfig"]["tools"]
    assert spec["toolSpec"]["name"] == "structured_output__My_Answer"
    assert spec["toolSpec"]["inputSchema"] == {"json": schema}
    assert out["toolConfig"]["toolChoice"] == {"tool": {"name": "structured_output__My_Answer"}}
    mixed = body(ChatRequest(messages=[Message.user("x")], tools=[TOOL],
                             response_format=ResponseFormat(type="json_object")))
    assert mixed["toolConfig"]["toolChoice"] == {"any": {}}
    assert len(mixed["toolConfig"]["tools"]) == 2


def test_images() -> None:
    png = "iVBORw0KGgoAAAANSUhEUg"
    out = body(ChatRequest(messages=[Message(role="user", content=[
        ImagePart(data=png), ImagePart(url="data:image/webp;base64,UklGRabc"),
        ImagePart(url="s3://bucket/cat.JPEG"), TextPart(text="what?")])]))
    assert out["messages"][0]["content"][:3] == [
        {"image": {"format": "png", "source": {"bytes": png}}},
        {"image": {"format": "webp", "source": {"bytes": "UklGRabc"}}},
        {"image": {"format": "jpeg", "source": {"s3Location": {"uri": "s3://bucket/cat.JPEG"}}}},
    ]
    for bad in (ImagePart(url="https://x/cat.png"), ImagePart(data="AAAA"),
                ImagePart(url="data:image/png,raw")):
        with pytest.raises(BadRequestError):
            body(ChatRequest(messages=[Message(role="user", content=[bad])]))


# --- authentication ----------------------------------------------------------

_SIG = re.compile(rf"AWS4-HMAC-SHA256 Credential={AKID}/\d{{8}}/us-east-1/bedrock/aws4_request, "
                  r"SignedHeaders=([a-z0-9;-]+), Signature=[0-9a-f]{64}")


def test_sigv4_with_static_credentials() -> None:
    http = make().build_request(ChatRequest(messages=[Message.user("x")]), HAIKU, stream=False)
    match = _SIG.fullmatch(http.headers["Authorization"])
    assert match is not None
    assert set(match.group(1).split(";")) >= {"accept", "content-type", "host", "x-amz-date"}
    assert re.fullmatch(r"\d{8}T\d{6}Z", http.headers["X-Amz-Date"])
    assert "X-Amz-Security-Token" not in http.headers


def test_sigv4_from_env_chain_with_session_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AKID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", "IQoJb3JpZ2luX2VjEXAMPLE-session-token")
    prov = make(extra={"region": "us-east-1", "imds": False})
    assert prov.auth.effective_mode() == "sigv4" and prov.is_configured() is None
    http = prov.build_request(ChatRequest(messages=[Message.user("x")]), HAIKU, stream=False)
    assert http.headers["X-Amz-Security-Token"] == "IQoJb3JpZ2luX2VjEXAMPLE-session-token"
    assert "x-amz-security-token" in http.headers["Authorization"]


def test_no_credentials_anywhere_is_a_config_error() -> None:
    prov = make(extra={"region": "us-east-1", "imds": False})
    with pytest.raises(ConfigError, match="no AWS credentials"):
        prov.build_request(ChatRequest(messages=[Message.user("x")]), HAIKU, stream=False)


def test_static_credentials_from_env_refs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_AK", AKID)
    monkeypatch.setenv("MY_SK", SECRET)
    prov = make(extra={"region": "us-east-1", "aws_access_key_id": "env:MY_AK",
                       "aws_secret_access_key": "env:MY_SK"})
    http = prov.build_request(ChatRequest(messages=[Message.user("x")]), HAIKU, stream=False)
    assert _SIG.fullmatch(http.headers["Authorization"])
    with pytest.raises(ConfigError, match="both"):
        make(extra={"region": "us-east-1", "aws_access_key_id": AKID}).build_request(
            ChatRequest(messages=[Message.user("x")]), HAIKU, stream=False)


def test_bearer_token_from_env_wins_in_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", TOKEN)
    prov = make(extra={"region": "us-east-1"})
    assert prov.auth.effective_mode() == "bearer"
    http = prov.build_request(ChatRequest(messages=[Message.user("x")]), HAIKU, stream=False)
    assert http.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "X-Amz-Date" not in http.headers
    forced = make(extra={**STATIC, "auth": "sigv4"})
    assert forced.auth.effective_mode() == "sigv4"


def test_bearer_mode_without_token() -> None:
    prov = make(extra={"region": "us-east-1", "auth": "bearer"})
    assert prov.is_configured() == "no Bedrock API key (AWS_BEARER_TOKEN_BEDROCK is not set)"
    with pytest.raises(MissingSecretError):
        prov.build_request(ChatRequest(messages=[Message.user("x")]), HAIKU, stream=False)
    with pytest.raises(ConfigError, match="unknown auth mode"):
        make(extra={"auth": "iam"})


def test_secrets_never_in_repr_and_scrubbed_from_messages(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = "IQoJb3JpZ2luX2VjSESSION-TOKEN-never-shown"
    prov = make(extra={**STATIC, "aws_session_token": token})
    http = prov.build_request(ChatRequest(messages=[Message.user("x")]), HAIKU, stream=False)
    signature = http.headers["Authorization"].rsplit("=", 1)[1]
    for text in (repr(prov), str(prov), repr(prov.auth)):
        assert SECRET not in text and token not in text and AKID not in text
    leaked = f"echo {SECRET} {token} {http.headers['Authorization']} {AKID}"
    clean = redact(leaked)
    for secret in (SECRET, token, signature, AKID):
        assert secret not in clean
    monkeypatch.setenv("AWS_BEARER_TOKEN_BEDROCK", TOKEN)
    bearer = make(extra={"region": "us-east-1"})
    bearer.build_request(ChatRequest(messages=[Message.user("x")]), HAIKU, stream=False)
    assert TOKEN not in redact(f"token {TOKEN}") and TOKEN not in repr(bearer)


def test_bearer_mode_works_without_botocore() -> None:
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['botocore'] = None\n"
        "from polyroute.providers.base import ProviderSettings\n"
        "from polyroute.types import ChatRequest, Message\n"
        "from polyroute_bedrock import BedrockProvider\n"
        "p = BedrockProvider(ProviderSettings(name='a', type='bedrock', api_key='ABSK-token-0123',"
        " extra={'region': 'us-east-1'}))\n"
        "h = p.build_request(ChatRequest(messages=[Message.user('x')]), 'm', stream=True)\n"
        "assert h.headers['Authorization'] == 'Bearer ABSK-token-0123'\n"
        "s = BedrockProvider(ProviderSettings(name='a', type='bedrock',"
        " extra={'region': 'us-east-1', 'auth': 'sigv4'}))\n"
        "print(s.is_configured())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert "needs botocore" in out.stdout
