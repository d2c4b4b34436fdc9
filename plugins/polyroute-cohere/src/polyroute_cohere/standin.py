"""``CohereResponder``: Cohere's Chat API v2 wire format for ``StandinServer``.

A deterministic scripted model answering in the real formats: ``/v2/chat``
JSON bodies (``message.content`` items, ``tool_plan``, ``tool_calls``,
``usage.billed_units``/``tokens``), SSE streams with the v2 event types
(``message-start``, ``content-start``, ``content-delta``, ``content-end``,
``tool-plan-delta``, ``tool-call-start``, ``tool-call-delta``, ``tool-call-end``,
``message-end``), ``{"id", "message"}`` error bodies, and an in-band error as a
``message-end`` with ``finish_reason: ERROR`` and ``delta.error``.

What it answers: a call of the first tool (``tool_choice`` not ``NONE``, the
last message the user's), with a tool plan and arguments from the schema;
after a tool result, ``"The tool returned: ..."``; JSON for
``response_format``; else ``"Hello from the Cohere stand-in: <last user text>"``.
``stop_sequences`` and ``max_tokens`` cut the text. Without a bearer key (or a
different one than ``require_api_key``) it answers 401 ``invalid api token``.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from typing import Any

from polyroute.testing.schema_example import example_for
from polyroute.testing.standin import Reply, StandinRequest, echo, message_text, sse

__all__ = ["CohereResponder"]

_MESSAGES = {
    401: "invalid api token",
    402: "Please add a payment method to continue: https://dashboard.cohere.com/billing",
    404: "model not found, make sure the correct model ID was used and that you have access "
         "to the model.",
    429: "You are past the per minute request limit, please wait and try again later.",
    499: "request cancelled",
    500: "internal server error, this has been reported to our developers.",
}
_ECHO_WORDS = 12


def _uuid(seed: bytes) -> str:
    return str(uuid.UUID(bytes=hashlib.sha256(seed).digest()[:16]))


class CohereResponder:
    """Speaks Cohere Chat v2 (JSON and SSE) for ``StandinServer``."""

    def __init__(self, *, require_api_key: str | None = None, words_per_chunk: int = 2,
                 models: tuple[str, ...] = ("command-a-03-2025", "command-r7b-12-2024")) -> None:
        self.require_api_key = require_api_key
        self.words_per_chunk = max(1, words_per_chunk)
        self.models = models

    # --- Responder protocol --------------------------------------------------

    def answer(self, request: StandinRequest) -> Reply:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or (
            self.require_api_key is not None and auth != f"Bearer {self.require_api_key}"
        ):
            return self.error(request, 401, "injected")
        path = request.path.split("?", 1)[0].rstrip("/")
        if request.method == "GET" and path == "/v1/models":
            return Reply.json({"models": [{"name": m, "endpoints": ["chat"],
                                           "context_length": 128000} for m in self.models]})
        if request.method != "POST" or path != "/v2/chat":
            return self.error(request, 404, "injected")
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self.error(request, 400, "invalid request: messages is required")
        if "model" not in body:
            return self.error(request, 400, "invalid request: model is required")
        response = self.response(body, request.body)
        if body.get("stream"):
            return Reply(200, {"content-type": "text/event-stream"},
                         chunks=self.events(response))
        return Reply.json(response)

    def error(self, request: StandinRequest, status: int, message: str) -> Reply:
        if message.startswith("injected") and status in _MESSAGES:
            message = _MESSAGES[status]
        return Reply.json({"id": _uuid(request.body + str(status).encode()), "message": message},
                          status=status)

    def stream_error_event(self, request: StandinRequest, message: str) -> bytes:
        return sse({"type": "message-end", "delta": {"error": message, "finish_reason": "ERROR",
                                                     "usage": None}}, event="message-end")

    # --- the scripted model --------------------------------------------------

    def response(self, body: dict[str, Any], raw: bytes) -> dict[str, Any]:
        messages = [m for m in body["messages"] if isinstance(m, Mapping)]
        last = messages[-1] if messages else {}
        tools = [t["function"] for t in body.get("tools") or []
                 if isinstance(t, Mapping) and isinstance(t.get("function"), Mapping)]
        rid = _uuid(raw)
        prompt = sum(len(message_text(m.get("content")).split()) for m in messages) + 5
        if tools and body.get("tool_choice") != "NONE" and last.get("role") == "user":
            fn = tools[0]
            args = json.dumps(example_for(fn.get("parameters") or {"type": "object"}) or {})
            call_id = f"{fn.get('name', 'tool')}_{hashlib.sha256(raw).hexdigest()[:12]}"
            message: dict[str, Any] = {
                "role": "assistant",
                "tool_plan": f"I will use the {fn.get('name')} tool to answer.",
                "tool_calls": [{"id": call_id, "type": "function",
                                "function": {"name": fn.get("name", ""), "arguments": args}}],
            }
            return self._wrap(rid, message, "TOOL_CALL", prompt, len(args.split()) + 8)
        if last.get("role") == "tool":
            text = f"The tool returned: {' '.join(message_text(last.get('content')).split()[:40])}"
        else:
            text = echo(messages, "Hello from the Cohere stand-in: ", _ECHO_WORDS)
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_object":
            schema = fmt.get("json_schema")
            text = json.dumps(example_for(schema) if schema else {"answer": text})
        finish = "COMPLETE"
        cuts = [text.find(s) for s in body.get("stop_sequences") or [] if s and s in text]
        if cuts:
            text, finish = text[: min(cuts)], "STOP_SEQUENCE"
        words = text.split(" ")
        limit = body.get("max_tokens")
        if isinstance(limit, int) and 0 < limit < len(words):
            text, finish = " ".join(words[:limit]), "MAX_TOKENS"
        message = {"role": "assistant", "content": [{"type": "text", "text": text}]}
        return self._wrap(rid, message, finish, prompt, max(1, len(text.split())))

    @staticmethod
    def _wrap(rid: str, message: dict[str, Any], finish: str, prompt: int,
              output: int) -> dict[str, Any]:
        return {"id": rid, "message": message, "finish_reason": finish,
                "usage": {"billed_units": {"input_tokens": prompt, "output_tokens": output},
                          "tokens": {"input_tokens": prompt + 60, "output_tokens": output + 2}}}

    def events(self, response: dict[str, Any]) -> list[bytes]:
        """``response`` as the v2 stream event sequence."""
        msg = response["message"]

        def ev(data: dict[str, Any]) -> bytes:
            return sse(data, event=data["type"])

        out = [ev({"type": "message-start", "id": response["id"], "delta": {"message": {
            "role": "assistant", "content": [], "tool_plan": "", "tool_calls": [],
            "citations": []}}})]
        if msg.get("tool_calls"):
            for piece in re.findall(r"\S+\s*", msg.get("tool_plan", "")):
                out.append(ev({"type": "tool-plan-delta",
                               "delta": {"message": {"tool_plan": piece}}}))
            for index, call in enumerate(msg["tool_calls"]):
                head = {"id": call["id"], "type": "function",
                        "function": {"name": call["function"]["name"], "arguments": ""}}
                out.append(ev({"type": "tool-call-start", "index": index,
                               "delta": {"message": {"tool_calls": head}}}))
                args = call["function"]["arguments"]
                for i in range(0, len(args), 8):
                    out.append(ev({"type": "tool-call-delta", "index": index, "delta": {
                        "message": {"tool_calls": {"function": {"arguments": args[i:i + 8]}}}}}))
                out.append(ev({"type": "tool-call-end", "index": index}))
        else:
            text = msg["content"][0]["text"]
            out.append(ev({"type": "content-start", "index": 0, "delta": {"message": {
                "content": {"type": "text", "text": ""}}}}))
            words = re.findall(r"\S+\s*", text)
            step = self.words_per_chunk
            for i in range(0, len(words), step):
                out.append(ev({"type": "content-delta", "index": 0, "delta": {"message": {
                    "content": {"text": "".join(words[i:i + step])}}}}))
            out.append(ev({"type": "content-end", "index": 0}))
        out.append(ev({"type": "message-end", "delta": {
            "finish_reason": response["finish_reason"], "usage": response["usage"]}}))
        return out

