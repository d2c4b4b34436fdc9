"""A minimal third-party-style provider: speaks a tiny JSON protocol ("echo").

Used to test the core without any first-party plugin, and as the model of a
plugin written in an afternoon (see docs/plugins.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable

from polyroute import hookimpl
from polyroute.errors import InvalidResponseError, ProviderError, StreamInterruptedError
from polyroute.providers import (
    HttpRequest,
    HttpResponse,
    Provider,
    StreamEvent,
    StreamParser,
    error_class_for_status,
    parse_retry_after,
)
from polyroute.testing.standin import Reply, StandinRequest, ndjson
from polyroute.types import ChatChunk, ChatRequest, ChatResponse, Message, Usage


class EchoProvider(Provider):
    type_name = "echo"
    default_base_url = "http://127.0.0.1:9"
    api_key_env = ("ECHO_API_KEY",)
    requires_api_key = False

    def build_request(self, request: ChatRequest, model: str, *, stream: bool) -> HttpRequest:
        headers = {}
        key = self.api_key()
        if key:
            headers["authorization"] = f"Bearer {key}"
        return HttpRequest(
            "POST", f"{self.base_url}/echo",
            headers=headers,
            json={"model": model, "prompt": request.messages[-1].text, "stream": stream,
                  "temperature": request.params.temperature},
            framing="ndjson" if stream else None,
        )

    def parse_response(self, response: HttpResponse, model: str) -> ChatResponse:
        try:
            data = response.json()
            return ChatResponse(
                message=Message.assistant(data["text"]), finish_reason="stop",
                usage=Usage(input_tokens=data["in"], output_tokens=data["out"]),
                response_model=data["model"],
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidResponseError(
                f"bad echo body: {exc}", provider=self.name, model=model
            ) from exc

    def parse_error(self, response: HttpResponse, model: str) -> ProviderError:
        cls = error_class_for_status(response.status)
        return cls(response.text[:200], provider=self.name, model=model, status=response.status,
                   retry_after=parse_retry_after(response.headers))

    def stream_parser(self, model: str) -> StreamParser:
        return _EchoStream(self.name, model)


class _EchoStream(StreamParser):
    def __init__(self, provider: str, model: str) -> None:
        self.provider, self.model, self.done = provider, model, False

    def feed(self, event: StreamEvent) -> Iterable[ChatChunk]:
        data = json.loads(event.data)
        if "error" in data:
            raise StreamInterruptedError(data["error"], provider=self.provider, model=self.model)
        if data.get("done"):
            self.done = True
            yield ChatChunk(finish_reason="stop", usage=Usage(input_tokens=data["in"],
                                                              output_tokens=data["out"]))
        else:
            yield ChatChunk(text=data["text"])

    def close(self) -> Iterable[ChatChunk]:
        if not self.done:
            raise StreamInterruptedError("no done line", provider=self.provider, model=self.model)
        return ()


class EchoResponder:
    """Stand-in responder for the echo protocol."""

    def __init__(self, name: str = "echo") -> None:
        self.name = name

    def answer(self, request: StandinRequest) -> Reply:
        data = request.json()
        text = f"{self.name} says: {data['prompt']}"
        words = text.split(" ")
        if data.get("stream"):
            chunks = [ndjson({"text": w + " "}) for w in words]
            chunks.append(ndjson({"done": True, "in": 3, "out": len(words)}))
            return Reply(200, {"content-type": "application/x-ndjson"}, chunks=chunks)
        return Reply.json({"text": text, "in": 3, "out": len(words), "model": data["model"]})

    def error(self, request: StandinRequest, status: int, message: str) -> Reply:
        return Reply.json({"error": message}, status=status)

    def stream_error_event(self, request: StandinRequest, message: str) -> bytes:
        return ndjson({"error": message})


@hookimpl
def polyroute_register_provider_types(register: Callable[[type[Provider]], None]) -> None:
    register(EchoProvider)
