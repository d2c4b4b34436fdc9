"""``LlamaResponder``: the Meta Llama API's chat completions for ``StandinServer``.

A deterministic scripted model answering in the API's own shape (see ``parse`` and
``stream`` for the references): JSON bodies with ``completion_message`` and ``metrics``,
SSE streams of ``start`` / ``progress`` / ``complete`` / ``metrics`` events without a
``[DONE]`` sentinel, an in-band ``event: error``, and ``{"detail": ...}`` error bodies
(the reference publishes no error schema; ``parse.classify_error`` reads this and the
other common shapes).

What it answers: a call of the forced (or first) tool when tools are given,
``tool_choice`` is not ``none`` and the last message is the user's (arguments made from
the schema, the first string taking the first phrase the user quoted); after a tool
result, ``"The tool returned: ..."``; JSON from ``response_format``'s schema; else
``"Hello from the Llama API stand-in: <last user text>"``. ``max_completion_tokens``
cuts the text by words (``stop_reason: length``). Like the API it answers 401 without a
bearer key, and 400 for a body field the API does not define (``stop``, ``seed``,
``stream_options``...), as its request validation does.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from polyroute.testing.schema_example import example_for
from polyroute.testing.standin import Reply, StandinRequest, echo, message_text, sse

__all__ = ["FIELDS", "LlamaResponder"]

FIELDS = frozenset({
    "messages", "model", "max_completion_tokens", "repetition_penalty", "response_format",
    "temperature", "tool_choice", "tools", "top_k", "top_p", "user", "stream",
})
"""The request fields of ``llama-api-client`` 0.6.0's ``CompletionCreateParams``."""


def _rid(raw: bytes) -> str:
    return "AhxYPdA" + hashlib.sha256(raw).hexdigest()[:18]


class LlamaResponder:
    """Speaks ``POST /v1/chat/completions`` (and ``GET /v1/models``) of the Llama API."""

    def __init__(self, *, words_per_chunk: int = 2, argument_fragment_chars: int = 10,
                 models: tuple[str, ...] = ("Llama-4-Maverick-17B-128E-Instruct-FP8",
                                            "Llama-3.3-70B-Instruct")) -> None:
        self.words_per_chunk = max(1, words_per_chunk)
        self.argument_fragment_chars = max(1, argument_fragment_chars)
        self.models = models

    def answer(self, request: StandinRequest) -> Reply:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return self.error(request, 401, "Authentication required: missing bearer token")
        path = request.path.split("?", 1)[0].rstrip("/")
        if request.method == "GET" and path.endswith("/models"):
            return Reply.json({"data": [{"id": m, "created": 1744000000, "object": "model",
                                         "owned_by": "Meta"} for m in self.models]})
        if request.method != "POST" or not path.endswith("/chat/completions"):
            return self.error(request, 404, f"Not Found: {request.method} {path}")
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self.error(request, 400, "messages: field required")
        unknown = sorted(set(body) - FIELDS)
        if unknown:
            return self.error(request, 400, f"Unrecognized request argument(s): {unknown}")
        result = self._script(body)
        rid = _rid(request.body)
        if body.get("stream"):
            return Reply(200, {"content-type": "text/event-stream", "x-request-id": rid},
                         chunks=self._events(rid, body, result))
        return Reply.json(self._completion(rid, body, result), headers={"x-request-id": rid})

    def error(self, request: StandinRequest, status: int, message: str) -> Reply:
        return Reply.json({"detail": message}, status=status,
                          headers={"x-request-id": _rid(request.body + str(status).encode())})

    def stream_error_event(self, request: StandinRequest, message: str) -> bytes:
        return sse({"detail": message}, event="error")

    # --- the scripted model ----------------------------------------------------------

    def _script(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = [m for m in body["messages"] if isinstance(m, Mapping)]
        last = messages[-1] if messages else {}
        tools = [t["function"] for t in body.get("tools") or []
                 if isinstance(t, Mapping) and isinstance(t.get("function"), Mapping)]
        choice = body.get("tool_choice")
        forced = choice.get("function", {}).get("name") if isinstance(choice, Mapping) else None
        if tools and choice != "none" and (forced or last.get("role") == "user"):
            fn = next((t for t in tools if t.get("name") == forced), tools[0])
            args = example_for(fn.get("parameters") or {"type": "object"}) or {}
            quoted = re.findall(r"'([^']+)'", _user_text(messages))
            first = next((k for k, v in args.items() if isinstance(v, str)), None)
            if quoted and first is not None:
                args[first] = quoted[0]
            call = {"id": "call_" + hashlib.sha256(json.dumps(body).encode()).hexdigest()[:12],
                    "function": {"name": fn.get("name", ""), "arguments": json.dumps(args)}}
            return {"text": "", "calls": [call], "stop": "tool_calls",
                    "out": max(1, len(json.dumps(args).split()))}
        if last.get("role") == "tool":
            text = "The tool returned: " + " ".join(message_text(last.get("content")).split()[:40])
        else:
            text = echo(messages, "Hello from the Llama API stand-in: ")
        fmt = body.get("response_format")
        if isinstance(fmt, Mapping) and fmt.get("type") == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema") or {"type": "object"}
            text = json.dumps(example_for(schema) or {"answer": text})
        stop, limit, words = "stop", body.get("max_completion_tokens"), text.split(" ")
        if isinstance(limit, int) and 0 < limit < len(words):
            text, stop = " ".join(words[:limit]), "length"
        return {"text": text, "calls": [], "stop": stop, "out": max(1, len(text.split()))}

    @staticmethod
    def _metrics(body: dict[str, Any], result: dict[str, Any]) -> list[dict[str, Any]]:
        prompt = sum(len(message_text(m.get("content")).split()) + 4
                     for m in body["messages"] if isinstance(m, Mapping))
        out = int(result["out"])
        return [{"metric": "num_completion_tokens", "value": out, "unit": "tokens"},
                {"metric": "num_prompt_tokens", "value": prompt, "unit": "tokens"},
                {"metric": "num_total_tokens", "value": prompt + out, "unit": "tokens"}]

    def _completion(self, rid: str, body: dict[str, Any], result: dict[str, Any]
                    ) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "stop_reason": result["stop"],
                                   "content": {"type": "text", "text": result["text"]}}
        if result["calls"]:
            message["tool_calls"] = result["calls"]
        return {"id": rid, "completion_message": message,
                "metrics": self._metrics(body, result)}

    def _events(self, rid: str, body: dict[str, Any], result: dict[str, Any]) -> list[bytes]:
        def ev(kind: str, delta: dict[str, Any], **extra: Any) -> bytes:
            return sse({"id": rid, "event": {"event_type": kind, "delta": delta, **extra}})

        out = [ev("start", {"type": "text", "text": ""})]
        words = re.findall(r"\S+\s*", result["text"])
        for i in range(0, len(words), self.words_per_chunk):
            out.append(ev("progress", {"type": "text",
                                       "text": "".join(words[i:i + self.words_per_chunk])}))
        for call in result["calls"]:
            out.append(ev("progress", {"type": "tool_call", "id": call["id"],
                                       "function": {"name": call["function"]["name"]}}))
            args, size = call["function"]["arguments"], self.argument_fragment_chars
            for i in range(0, len(args), size):
                out.append(ev("progress", {"type": "tool_call",
                                           "function": {"arguments": args[i:i + size]}}))
        out.append(ev("complete", {"type": "text", "text": ""}, stop_reason=result["stop"]))
        out.append(ev("metrics", {"type": "text", "text": ""},
                      metrics=self._metrics(body, result)))
        return out


def _user_text(messages: list[Mapping[str, Any]]) -> str:
    user: Mapping[str, Any] = next((m for m in reversed(messages) if m.get("role") == "user"),
                                   {})
    return message_text(user.get("content"))
