"""``OpenAIProvider``: neutral ``ChatRequest`` → Chat Completions HTTP request. No IO.

Wire format: https://platform.openai.com/docs/api-reference/chat/create

Settings this provider reads (besides the common ones):

``settings.extra``
    ``max_tokens_field``   ``"max_completion_tokens"`` (default, OpenAI's current
                           field) or ``"max_tokens"`` for servers that only know
                           the legacy one.
    ``accepts_top_k``      send ``top_k`` (vLLM, LocalAI, Together, OpenRouter);
                           OpenAI rejects it, so it is dropped by default.
    ``include_usage``      ask for the usage chunk when streaming (default true).
    ``system_role``        ``"system"`` (default) or ``"developer"``.
    ``header_sources``     ``{header: {"extra": key, "env": VAR}}``: headers
                           whose value comes from another ``extra`` key or an env
                           var (OpenRouter's attribution headers).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from polyroute.errors import BadRequestError, ProviderError
from polyroute.providers.base import HttpRequest, HttpResponse, Provider
from polyroute.providers.bodies import typed_error, typed_parse
from polyroute.providers.request_parts import function_tool, image_url, put_present, text_or_parts
from polyroute.types import (
    ChatRequest,
    ChatResponse,
    ImagePart,
    Message,
    ModelInfo,
    NamedToolChoice,
    TextPart,
    ToolCallPart,
    ToolResultPart,
)
from polyroute_openai.parse import parse_chat_completion, parse_error_response, parse_model_ids
from polyroute_openai.stream import OpenAIStreamParser

__all__ = ["OpenAIProvider", "dumps_arguments"]

MAX_TOKENS_FIELDS = ("max_completion_tokens", "max_tokens")


def dumps_arguments(arguments: Mapping[str, Any]) -> str:
    """Tool-call arguments as the JSON string the API carries."""
    return json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)


_REASONING_MODEL = re.compile(r"^(o\d+|gpt-5(?!-chat))([-.]|$)")
_REASONING_REFUSED = frozenset({"temperature", "top_p", "frequency_penalty", "presence_penalty"})


class OpenAIProvider(Provider):
    """OpenAI Chat Completions, and any server that speaks it."""

    type_name: ClassVar[str] = "openai"
    default_base_url: ClassVar[str | None] = "https://api.openai.com/v1"
    api_key_env: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)
    stream_parser_type = OpenAIStreamParser
    # OpenAI rejects top_k; servers that take it (vLLM, LocalAI...) list it in
    # extra.supported_params (their templates do).
    supported_params: ClassVar[frozenset[str] | None] = frozenset(
        {"temperature", "top_p", "max_tokens", "stop", "frequency_penalty",
         "presence_penalty", "seed"}
    )

    def refused_params(self, model: str) -> frozenset[str] | None:
        # Reasoning models (o-series, GPT-5 except gpt-5-chat) answer 400 "Unsupported
        # parameter" to sampling controls. A provider whose config lists
        # extra.supported_params has said what it takes: that wins.
        if "supported_params" in self.settings.extra:
            return None
        return _REASONING_REFUSED if _REASONING_MODEL.match(model) else None

    # --- request -------------------------------------------------------------

    def endpoint_url(self, model: str) -> str:
        return f"{self.base_url}/chat/completions"

    def auth_headers(self) -> dict[str, str]:
        key = self.api_key()
        return {"Authorization": f"Bearer {key}"} if key else {}

    def request_headers(self) -> dict[str, str]:
        headers = self.auth_headers()
        if self.settings.organization:
            headers["OpenAI-Organization"] = self.settings.organization
        if self.settings.project:
            headers["OpenAI-Project"] = self.settings.project
        headers.update(self._sourced_headers())
        headers.update(self.settings.headers)
        return headers

    def _sourced_headers(self) -> dict[str, str]:
        sources = self.settings.extra.get("header_sources") or {}
        out: dict[str, str] = {}
        if not isinstance(sources, Mapping):
            return out
        for header, source in sources.items():
            if not isinstance(source, Mapping):
                continue
            value = self.settings.extra.get(str(source.get("extra", "")))
            if not value and source.get("env"):
                value = os.environ.get(str(source["env"]))
            if value:
                out[str(header)] = str(value)
        return out

    def build_request(self, request: ChatRequest, model: str, *, stream: bool) -> HttpRequest:
        return HttpRequest(
            method="POST",
            url=self.endpoint_url(model),
            headers=self.request_headers(),
            json=self.build_body(request, model, stream=stream),
            framing="sse" if stream else None,
        )

    def build_body(self, request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
        extra = self.settings.extra
        body: dict[str, Any] = {
            "model": model,
            "messages": self.convert_messages(request.messages),
        }
        if request.tools:
            body["tools"] = [function_tool(t.name, t.description, t.parameters, t.strict)
                             for t in request.tools]
        if request.tool_choice is not None:
            choice = request.tool_choice
            body["tool_choice"] = (
                {"type": "function", "function": {"name": choice.name}}
                if isinstance(choice, NamedToolChoice)
                else choice
            )
        if request.parallel_tool_calls is not None:
            body["parallel_tool_calls"] = request.parallel_tool_calls
        fmt = request.response_format
        if fmt is not None and fmt.type == "json_object":
            body["response_format"] = {"type": "json_object"}
        elif fmt is not None and fmt.type == "json_schema":
            spec: dict[str, Any] = {
                "name": fmt.name or "response",
                "schema": fmt.json_schema or {"type": "object"},
            }
            if fmt.strict is not None:
                spec["strict"] = fmt.strict
            body["response_format"] = {"type": "json_schema", "json_schema": spec}

        p = request.params
        max_field = extra.get("max_tokens_field", "max_completion_tokens")
        if max_field not in MAX_TOKENS_FIELDS:
            max_field = "max_completion_tokens"
        put_present(body, (
            ("temperature", p.temperature),
            ("top_p", p.top_p),
            (max_field, p.max_tokens),
            ("stop", p.stop),
            ("frequency_penalty", p.frequency_penalty),
            ("presence_penalty", p.presence_penalty),
            ("seed", p.seed),
        ))
        if p.top_k is not None and extra.get("accepts_top_k"):
            body["top_k"] = p.top_k
        body.update(p.extra)
        if stream:
            body["stream"] = True
            if extra.get("include_usage", True):
                body["stream_options"] = {"include_usage": True}
        return body

    def convert_messages(self, messages: list[Message]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        system_role = self.settings.extra.get("system_role", "system")
        for m in messages:
            if isinstance(m.content, list):
                for part in m.content:
                    if isinstance(part, ToolResultPart):
                        out.append(
                            {"role": "tool", "tool_call_id": part.tool_call_id,
                             "content": part.content}
                        )
                rest = [p for p in m.content if not isinstance(p, ToolResultPart)]
                if m.role == "tool" or (not rest and m.content):
                    if rest:
                        raise BadRequestError(
                            "a tool message may only hold tool results", provider=self.name
                        )
                    continue
            elif m.role == "tool":
                raise BadRequestError(
                    "a tool message needs ToolResultPart content (with tool_call_id)",
                    provider=self.name,
                )
            msg: dict[str, Any]
            if m.role == "system":
                msg = {"role": system_role, "content": m.text}
            elif m.role == "assistant":
                msg = _assistant(m)
            else:
                msg = {"role": "user", "content": _user_content(m)}
            if m.name:
                msg["name"] = m.name
            out.append(msg)
        return out

    # --- response ------------------------------------------------------------

    @typed_parse
    def parse_response(self, response: HttpResponse, model: str) -> ChatResponse:
        return parse_chat_completion(response, provider=self.name, model=model)

    @typed_error
    def parse_error(self, response: HttpResponse, model: str) -> ProviderError:
        return parse_error_response(response, provider=self.name, model=model)

    # --- catalog -------------------------------------------------------------

    def models(self) -> list[ModelInfo]:
        if self.settings.base_url and self.settings.base_url.rstrip("/") != self.default_base_url:
            return []  # a compatible server: OpenAI's catalog says nothing about it
        from polyroute_openai.catalog import openai_models

        return openai_models()

    def list_models_request(self) -> HttpRequest | None:
        return HttpRequest("GET", f"{self.base_url}/models", headers=self.request_headers())

    @typed_parse
    def parse_models(self, response: HttpResponse) -> list[str]:
        return parse_model_ids(response, provider=self.name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} type={self.type_name!r} url={self._url()!r}>"

    def _url(self) -> str | None:
        try:
            return self.base_url
        except Exception:
            return None


def _assistant(m: Message) -> dict[str, Any]:
    calls = m.tool_calls
    text = m.text
    msg: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
    if calls:
        msg["tool_calls"] = [_tool_call(c) for c in calls]
    return msg


def _tool_call(call: ToolCallPart) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": dumps_arguments(call.arguments)},
    }


def _user_content(m: Message) -> str | list[dict[str, Any]]:
    if isinstance(m.content, str):
        return m.content
    parts: list[dict[str, Any]] = []
    for p in m.content:
        if isinstance(p, TextPart):
            parts.append({"type": "text", "text": p.text})
        elif isinstance(p, ImagePart):
            parts.append({"type": "image_url", "image_url": _image_url(p)})
    return text_or_parts(parts)


def _image_url(p: ImagePart) -> dict[str, Any]:
    url = image_url(p)
    if url is None:
        raise BadRequestError("an image part needs a url or base64 data")
    out: dict[str, Any] = {"url": url}
    if p.detail:
        out["detail"] = p.detail
    return out
