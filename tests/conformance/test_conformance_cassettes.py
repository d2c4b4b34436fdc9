"""Every cassette passes the same SDK checks as the stand-ins (issue 15).

Each interaction of each cassette folder is checked with the official SDK of its
provider: the request body against the SDK's request types, every 2xx body and stream
event against its response types (strictly, no undeclared field), every error body
against its error type where the SDK has one. Each cassette's header must name the SDK
and version it was checked against (``SDK_HEADERS``), so the claim stays true.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
import yaml

for _sdk in ("openai", "anthropic", "google.genai", "cohere", "mistralai.client", "ollama",
             "botocore", "llama_api_client"):
    pytest.importorskip(_sdk)

import botocore.eventstream
import botocore.session
import cohere
from anthropic.types import Message as AnthropicMessage
from anthropic.types import RawMessageStreamEvent
from anthropic.types.message_create_params import MessageCreateParamsBase
from anthropic.types.shared import ErrorResponse as AnthropicErrorResponse
from botocore.validate import ParamValidator
from cohere.v2.types.v2chat_response import V2ChatResponse
from cohere.v2.types.v2chat_stream_response import V2ChatStreamResponse
from google.genai import types as gtypes
from llama_api_client.types import (
    CreateChatCompletionResponse,
    CreateChatCompletionResponseStreamChunk,
)
from llama_api_client.types.chat.completion_create_params import (
    CompletionCreateParamsBase as LlamaParams,
)
from mistralai.client import errors as mistral_errors
from mistralai.client import models as mistral
from ollama._types import ChatRequest as OllamaChatRequest
from ollama._types import ChatResponse as OllamaChatResponse
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat.completion_create_params import CompletionCreateParamsBase
from openai.types.shared import ErrorObject
from sdk_oracle import shape_problems, strict_model, typed_dict_problems, unknown_fields

from polyroute.framing import decoder_for

ROOT = Path(__file__).parents[2] / "cassettes"

SDK_HEADERS = {
    "openai_wire": "openai 3.60.0",
    "langchain_standard_integration": "openai 3.60.0",
    "anthropic_wire": "anthropic 2.16.0",
    "gemini_wire": "google-genai 3.6.1",
    "cohere_wire": "cohere 7.3.1",
    "mistral_wire": "mistralai 3.7.0",
    "ollama_wire": "ollama 0.6.3",
    "bedrock_wire": "botocore 1.44.8",
    "llama_wire": "llama-api-client 0.6.0",
}


@pytest.fixture(scope="module")
def bedrock_model() -> Any:
    return botocore.session.get_session().get_service_model("bedrock-runtime")


def _cassettes() -> Iterator[Any]:
    for folder in sorted(SDK_HEADERS):
        for path in sorted((ROOT / folder).glob("*.yaml")):
            yield pytest.param(folder, path, id=f"{folder}/{path.stem}")


def _problems(check: Callable[[], object]) -> list[str]:
    try:
        check()
    except AssertionError as exc:
        return [" ".join(str(exc).split())[:600]]
    return []


def _events(raw: bytes) -> list[tuple[str | None, str]]:
    decoder = decoder_for("sse")
    return [(e.event, e.data) for e in [*decoder.feed(raw), *decoder.close()]
            if e.data.strip() != "[DONE]"]


# --- one checker per wire format: (request body, uri, status, response bytes) → problems --

def _openai(body: Any, uri: str, status: int, raw: bytes) -> list[str]:
    out = typed_dict_problems(CompletionCreateParamsBase,
                              {k: v for k, v in body.items() if k != "stream"})
    if status >= 400:
        return out + _problems(lambda: strict_model(ErrorObject, json.loads(raw)["error"]))
    if raw.lstrip().startswith(b"{"):
        return out + _problems(lambda: strict_model(ChatCompletion, raw))
    return out + [p for _, data in _events(raw)
                  for p in _problems(lambda d=data: strict_model(ChatCompletionChunk, d))]


# Sampling controls the API reference documents and anthropic 2.16.0's types lack
# (tests/conformance/test_conformance_anthropic.py pins the same gap).
_ANTHROPIC_GAP = ("temperature", "top_p", "top_k")


def _anthropic(body: Any, uri: str, status: int, raw: bytes) -> list[str]:
    out = typed_dict_problems(MessageCreateParamsBase, {
        k: v for k, v in body.items() if k not in ("stream", *_ANTHROPIC_GAP)})
    if status >= 400:
        return out + _problems(lambda: strict_model(AnthropicErrorResponse, raw))
    if raw.lstrip().startswith(b"{"):
        return out + _problems(lambda: strict_model(AnthropicMessage, raw))
    return out + [p for name, data in _events(raw) if name != "ping"
                  for p in _problems(lambda d=data: strict_model(RawMessageStreamEvent, d))]


def _gemini(body: Any, uri: str, status: int, raw: bytes) -> list[str]:
    config = dict(body.get("generationConfig") or {})
    for key in ("systemInstruction", "tools", "toolConfig", "safetySettings"):
        if key in body:
            config[key] = body[key]
    out = _problems(lambda: [gtypes.Content.model_validate(c) for c in body["contents"]])
    try:
        gtypes.GenerateContentConfig.model_validate(config)
    except ValueError as exc:
        out.append(str(exc).splitlines()[0])
    if status >= 400:
        err = json.loads(raw).get("error", {})
        extra = set(err) - {"code", "message", "status", "details"}
        return out + ([f"error keys outside google.rpc.Status: {extra}"] if extra else [])
    datas = [raw] if raw.lstrip().startswith(b"{") else [d for _, d in _events(raw)]
    return out + [p for d in datas if "error" not in json.loads(d) for p in _problems(
        lambda d=d: strict_model(gtypes.GenerateContentResponse, d))]


_COHERE_DOCUMENTED = [f"$.delta.message.{k}" for k in ("content", "tool_plan", "tool_calls",
                                                       "citations")]


def _cohere(body: Any, uri: str, status: int, raw: bytes) -> list[str]:
    out = [p for m in body["messages"] for p in _problems(
        lambda m=m: strict_model(cohere.ChatMessageV2, m, strict=False))]
    out += [p for t in body.get("tools", []) for p in _problems(
        lambda t=t: strict_model(cohere.ToolV2, t, strict=False))]
    if status >= 400:
        extra = set(json.loads(raw)) - {"id", "message", "data"}
        return out + ([f"error keys: {extra}"] if extra else [])
    if raw.lstrip().startswith(b"{"):
        return out + _problems(lambda: strict_model(V2ChatResponse, raw))
    return out + [p for _, data in _events(raw) for p in _problems(
        lambda d=data: strict_model(V2ChatStreamResponse, d, documented=_COHERE_DOCUMENTED))]


def _mistral(body: Any, uri: str, status: int, raw: bytes) -> list[str]:
    cls = mistral.ChatCompletionStreamRequest if body.get("stream") else (
        mistral.ChatCompletionRequest)
    out = unknown_fields(cls.model_validate(body), body)
    if status == 422:
        return out + _problems(lambda: strict_model(mistral_errors.HTTPValidationErrorData, raw))
    if status >= 400:
        extra = set(json.loads(raw)) - {"object", "message", "type", "param", "code",
                                        "request_id"}
        return out + ([f"error keys: {extra}"] if extra else [])
    if raw.lstrip().startswith(b"{"):
        return out + _problems(lambda: strict_model(mistral.ChatCompletionResponse, raw))
    return out + [p for _, data in _events(raw) for p in _problems(
        lambda d=data: strict_model(mistral.CompletionChunk, d))]


def _ollama(body: Any, uri: str, status: int, raw: bytes) -> list[str]:
    out = unknown_fields(OllamaChatRequest.model_validate(body), body)
    if status >= 400:
        # {"error": ...} (https://docs.ollama.com/api/errors); a cloud model's 401 adds
        # the documented signin_url
        keys = set(json.loads(raw))
        return out + ([] if "error" in keys and keys <= {"error", "signin_url"} else [
            f"error body keys {keys}"])
    lines = [line for line in raw.splitlines() if line.strip()]
    return out + [p for line in lines if "error" not in json.loads(line) for p in _problems(
        lambda ln=line: strict_model(OllamaChatResponse, ln))]


def _llama(body: Any, uri: str, status: int, raw: bytes) -> list[str]:
    out = typed_dict_problems(LlamaParams, {k: v for k, v in body.items() if k != "stream"})
    if status >= 400:
        return out
    if raw.lstrip().startswith(b"{"):
        return out + _problems(lambda: strict_model(CreateChatCompletionResponse, raw))
    return out + [p for _, data in _events(raw) for p in _problems(
        lambda d=data: strict_model(CreateChatCompletionResponseStreamChunk, d))]


def _blobs(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: (base64.b64decode(v) if k == "bytes" and isinstance(v, str) else _blobs(v))
                for k, v in node.items()}
    return [_blobs(v) for v in node] if isinstance(node, list) else node


def _bedrock(body: Any, uri: str, status: int, raw: bytes, service: Any) -> list[str]:
    stream = uri.endswith("/converse-stream")
    op = service.operation_model("ConverseStream" if stream else "Converse")
    model_id = unquote(uri.split("/model/", 1)[1].rsplit("/", 1)[0])
    report = ParamValidator().validate({"modelId": model_id, **_blobs(body)}, op.input_shape)
    out = [report.generate_report()] if report.has_errors() else []
    if status >= 400:
        return out
    if not stream:
        return out + shape_problems(op.output_shape, json.loads(raw))
    events = op.output_shape.members["stream"]
    buffer = botocore.eventstream.EventStreamBuffer()
    buffer.add_data(raw)
    for frame in buffer:
        name = frame.headers.get(":event-type") or frame.headers.get(":exception-type")
        if name not in events.members:
            out.append(f"{name}: not a ConverseStream event")
        elif frame.headers.get(":message-type") == "event":
            out += shape_problems(events.members[name], json.loads(frame.payload), f"$.{name}")
    return out


CHECKS: dict[str, Callable[[Any, str, int, bytes], list[str]]] = {
    "openai_wire": _openai, "langchain_standard_integration": _openai,
    "anthropic_wire": _anthropic, "gemini_wire": _gemini, "cohere_wire": _cohere,
    "mistral_wire": _mistral, "ollama_wire": _ollama, "llama_wire": _llama,
}


# The chat endpoints these checkers know. An interaction with another endpoint (a model
# list, embeddings) is not a chat call: its own module checks it, not this one.
CHAT_PATHS = ("/chat/completions", "/v1/messages", ":generateContent", ":streamGenerateContent",
              "/v2/chat", "/api/chat", "/converse", "/converse-stream")


def _is_chat(uri: str) -> bool:
    path = uri.split("?", 1)[0]
    return any(path.endswith(p) for p in CHAT_PATHS)


@pytest.mark.parametrize(("folder", "path"), list(_cassettes()))
def test_cassette_passes_its_sdks_checks(folder: str, path: Path, bedrock_model: Any) -> None:
    text = path.read_text()
    doc = yaml.safe_load(text)
    chats = [i for i in doc["interactions"] if _is_chat(i["request"]["uri"])]
    if not chats:
        pytest.skip(f"{path.name} holds no chat call (checked by its own module)")
    header = "".join(line for line in text.splitlines(keepends=True)
                     if line.startswith("#"))
    assert f"Checked against {SDK_HEADERS[folder]}" in header, (
        f"{path.name}: the header must name the SDK version it is checked against")
    for item in chats:
        req, resp = item["request"], item["response"]
        body = json.loads(req["body"]) if req.get("body") else {}
        raw = resp["body"]["string"]
        raw = raw if isinstance(raw, bytes) else str(raw).encode()
        status = int(resp["status"]["code"])
        if folder == "bedrock_wire":
            problems = _bedrock(body, req["uri"], status, raw, bedrock_model)
        else:
            problems = CHECKS[folder](body, req["uri"], status, raw)
        assert problems == [], f"{path.name}: {problems}"


def test_every_cassette_folder_with_chat_calls_is_checked() -> None:
    with_chat = {p.parent.name for p in ROOT.glob("*/*.yaml")
                 if any(_is_chat(i["request"]["uri"])
                        for i in yaml.safe_load(p.read_text())["interactions"])}
    assert with_chat <= set(SDK_HEADERS), (
        f"cassette folders no SDK checks: {sorted(with_chat - set(SDK_HEADERS))}")


def _mutated(raw: bytes) -> bytes:
    """``raw`` with an undeclared field in its first JSON object."""
    return raw.replace(b'{"', b'{"surprise_field": 1, "', 1)


@pytest.mark.parametrize("folder", sorted(set(CHECKS)))
def test_each_checker_fails_on_an_undeclared_field(folder: str) -> None:
    """The oracle can say no: the first 2xx cassette of each folder, with one field added
    to its body, is refused."""
    for path in sorted((ROOT / folder).glob("*.yaml")):
        item = yaml.safe_load(path.read_text())["interactions"][0]
        if int(item["response"]["status"]["code"]) >= 400:
            continue
        body = json.loads(item["request"]["body"])
        raw = str(item["response"]["body"]["string"]).encode()
        assert CHECKS[folder](body, item["request"]["uri"], 200, raw) == []
        problems = CHECKS[folder](body, item["request"]["uri"], 200, _mutated(raw))
        assert problems and "surprise_field" in " ".join(problems), (path.name, problems)
        return
    pytest.fail(f"no 2xx cassette in {folder}")
