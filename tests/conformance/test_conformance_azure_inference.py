"""Azure AI Foundry Models (Model Inference API): ``azure-ai-inference`` (1.0.0b9) as the
oracle for ``AzureAIInferenceProvider`` (polyroute-openai) and its stand-in.

Responses: ``ChatCompletionsClient`` is pointed at ``AzureInferenceResponder`` and reads
every answer, stream update and error; its models wrap any dict unchecked, so each raw
body is walked against their ``rest_field`` declarations (``azure_model_problems``).
Requests: our body's messages, tools and response format fit the SDK's request models;
the SDK's own call for the same arguments sends our body, our ``api-version``, the
same two auth headers, and ``extra-parameters`` exactly when the body has extra keys.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("azure.ai.inference")

from azure.ai.inference import ChatCompletionsClient
from azure.ai.inference import models as az
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import HttpResponseError
from sdk_oracle import Recording, azure_model_problems, scenarios, sent_differences, sse_data

from polyroute.providers.base import HttpResponse, ProviderSettings
from polyroute.secrets import Secret
from polyroute.testing.standin import Fault, StandinServer
from polyroute.types import ChatRequest, GenerationParams, Message
from polyroute_openai import AzureAIInferenceProvider
from polyroute_openai.azure_inference_standin import AzureInferenceResponder

MODEL = "Mistral-Large-2411"
KEY = "azure-inference-conformance-key-0000"
CASES = scenarios()
# The SDK's beta StreamingChatResponseToolCallUpdate has only ``id`` (required) and
# ``function``; tool-call deltas in the OpenAI form the service streams carry ``index``
# and ``type``, and ``id`` and ``function.name`` on the first fragment only. Tolerated,
# and nothing else.
_TOOL_DELTA = re.compile(r"\.tool_calls\[\d+\]\.(index|type): not a field|"
                         r"\.tool_calls\[\d+\]\.(id|function\.name): required by .*, missing")
ROLES = {"system": az.SystemMessage, "user": az.UserMessage,
         "assistant": az.AssistantMessage, "tool": az.ToolMessage}


@pytest.fixture
def server() -> Iterator[StandinServer]:
    with StandinServer(Recording(AzureInferenceResponder())) as s:
        yield s


def _client(server: StandinServer) -> ChatCompletionsClient:
    return ChatCompletionsClient(endpoint=server.url + "/models",
                                 credential=AzureKeyCredential(KEY), retry_total=0)


def _provider(server: StandinServer, **extra: Any) -> AzureAIInferenceProvider:
    return AzureAIInferenceProvider(ProviderSettings(
        name="foundry", type="azure_ai_inference", api_key=Secret(KEY),
        base_url=server.url + "/models", extra=extra))


def _rec(server: StandinServer) -> Recording:
    assert isinstance(server.responder, Recording)
    return server.responder


def _body(server: StandinServer, case: str, stream: bool) -> dict[str, Any]:
    return _provider(server).build_request(CASES[case], MODEL, stream=stream).json


# --- our responses are theirs -------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
def test_sdk_reads_our_answer(server: StandinServer, case: str) -> None:
    res = _client(server).complete(body=_body(server, case, False))
    raw = json.loads(_rec(server).last_body())
    # ``object`` is in the REST reference's example response, not in the SDK's model
    assert azure_model_problems(az.ChatCompletions, raw) == ["$.object: not a field of "
                                                             "ChatCompletions"]
    assert res.id == raw["id"] and res.usage.total_tokens == raw["usage"]["total_tokens"]
    if case == "tools":
        call = res.choices[0].message.tool_calls[0]
        assert (call.function.name, res.choices[0].finish_reason) == ("get_weather",
                                                                      "tool_calls")


@pytest.mark.parametrize("case", sorted(CASES))
def test_sdk_reads_our_stream(server: StandinServer, case: str) -> None:
    updates = list(_client(server).complete(body=_body(server, case, True)))
    raw = sse_data(_rec(server).last)
    assert len(updates) == len(raw) > 2
    for (_, data), update in zip(raw, updates, strict=True):
        event = json.loads(data)
        problems = [p for p in azure_model_problems(az.StreamingChatCompletionsUpdate, event)
                    if not _TOOL_DELTA.search(p)]
        assert problems == ["$.object: not a field of StreamingChatCompletionsUpdate"]
        assert update.id == event["id"]
    assert updates[-1].usage is not None  # usage comes unasked, on the last update


@pytest.mark.parametrize("status", [400, 401, 404, 422, 429, 500])
def test_sdk_classifies_our_errors(server: StandinServer, status: int) -> None:
    server.push(Fault.status(status, message=f"boom {status}"))
    with pytest.raises(HttpResponseError) as info:
        _client(server).complete(messages=[az.UserMessage("hi")], model=MODEL)
    assert info.value.status_code == status
    assert info.value.error is not None and info.value.error.message == f"boom {status}"
    reply = _rec(server).last
    assert _provider(server).parse_error(
        HttpResponse(status, reply.headers, reply.body or b""), MODEL).status == status


# --- our requests are theirs --------------------------------------------------------------

@pytest.mark.parametrize("case", sorted(CASES))
def test_our_body_fits_the_sdk_request_models(server: StandinServer, case: str) -> None:
    body = _body(server, case, False)
    for i, message in enumerate(body["messages"]):
        assert azure_model_problems(ROLES[message["role"]], message, f"$.messages[{i}]") == []
    for tool in body.get("tools", []):
        assert azure_model_problems(az.ChatCompletionsToolDefinition, tool) == []
    if isinstance(body.get("tool_choice"), dict):
        assert azure_model_problems(az.ChatCompletionsNamedToolChoice,
                                    body["tool_choice"]) == []
    if "response_format" in body:
        fmt = body["response_format"]
        assert fmt["type"] == "json_schema"
        assert azure_model_problems(az.JsonSchemaFormat, fmt["json_schema"]) == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_sdk_sends_our_body_and_headers(server: StandinServer, case: str) -> None:
    ours = _provider(server).build_request(CASES[case], MODEL, stream=False)
    body = dict(ours.json)
    fmt = body.pop("response_format", None)
    kwargs: dict[str, Any] = dict(body)
    if fmt is not None:
        spec = fmt["json_schema"]
        kwargs["response_format"] = az.JsonSchemaFormat(
            name=spec["name"], schema=spec["schema"], strict=spec.get("strict"))
    _client(server).complete(**kwargs)
    sent = server.requests[-1]
    assert ours.url == server.url + sent.path
    assert sent_differences(json.loads(sent.body), ours.json,
                            sdk_defaults=frozenset({"stream"})) == []
    mine = {k.lower(): v for k, v in ours.headers.items()}
    for name in ("api-key", "authorization"):
        assert mine[name] == sent.headers[name], name
    assert "extra-parameters" not in mine and "extra-parameters" not in sent.headers


def test_extra_parameters_header_as_the_sdk_sets_it(server: StandinServer) -> None:
    """``params.extra`` (``model_extras`` in the SDK) go in the body with
    ``extra-parameters: pass-through``; without that header the service answers 422."""
    req = ChatRequest(messages=[Message.user("hi")],
                      params=GenerationParams(extra={"safe_prompt": True}))
    ours = _provider(server).build_request(req, MODEL, stream=False)
    _client(server).complete(messages=[az.UserMessage("hi")], model=MODEL,
                             model_extras={"safe_prompt": True})
    sent = server.requests[-1]
    assert {k.lower(): v for k, v in ours.headers.items()}["extra-parameters"] == (
        sent.headers["extra-parameters"] == "pass-through") * "pass-through"
    assert json.loads(sent.body)["safe_prompt"] is ours.json["safe_prompt"] is True
    server.push()
    bare = _client(server)
    with pytest.raises(HttpResponseError) as info:
        bare.complete(body={**ours.json})  # the same body without the header
    assert info.value.status_code == 422
