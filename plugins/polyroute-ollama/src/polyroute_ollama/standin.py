"""``OllamaResponder``: Ollama's native API for ``polyroute.testing.standin.StandinServer``.

A deterministic scripted model answering in the real formats
(https://github.com/ollama/ollama/blob/main/docs/api.md,
https://docs.ollama.com/api/errors):

- ``POST /api/chat``: a JSON object, or (``stream`` true or absent, as the
  API defaults to streaming) NDJSON lines, one per word, then the
  ``done: true`` line with ``done_reason``, counts and durations;
- ``GET /api/tags`` lists ``models``; ``GET /api/version`` answers ``{"version"}``;
- other paths answer ``404 page not found`` (plain text), as the server does.

The model: tools given and the last message is the user's → one tool call
of the first tool (no id, arguments an object made from the schema); the
last message a tool result → ``"The tool returned: ..."``; ``format`` set →
JSON (an example of the schema, or ``{"answer": ...}``); otherwise
``"Hello from the Ollama stand-in: <last user text>"``. ``options.stop`` cuts
the text; ``options.num_predict`` cuts it by words (``done_reason: length``).
Counts: about four characters per prompt token, one token per output word.

``models`` restricts the names the server "has pulled": any other answers
404 ``model 'x' not found``, like a real server.
"""

from __future__ import annotations

import json
from typing import Any

from polyroute.testing.standin import Reply, StandinRequest, ndjson

__all__ = ["OllamaResponder", "example_for"]

_CREATED = "2025-07-07T20:22:19.184789Z"
_ECHO = 200


def example_for(schema: object, depth: int = 0) -> Any:
    """A deterministic instance of a (simple) JSON schema."""
    if not isinstance(schema, dict) or depth > 6:
        return None
    if "enum" in schema and isinstance(schema["enum"], list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            options = [s for s in schema[key] if not (isinstance(s, dict)
                                                      and s.get("type") == "null")]
            return example_for((options or schema[key])[0], depth + 1)
    kind = schema.get("type", "object" if "properties" in schema else None)
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object":
        props = schema.get("properties")
        if not isinstance(props, dict):
            return {}
        return {k: example_for(v, depth + 1) for k, v in props.items()}
    if kind == "array":
        return [example_for(schema.get("items", {"type": "string"}), depth + 1)]
    return {"string": "example", "integer": 3, "number": 1.5, "boolean": True}.get(str(kind))


class OllamaResponder:
    """Speaks Ollama's native API for the stand-in server."""

    version = "0.12.6"

    def __init__(self, models: list[str] | None = None) -> None:
        self.models = models

    # --- Responder protocol --------------------------------------------------

    def answer(self, request: StandinRequest) -> Reply:
        path = request.path.split("?")[0]
        if request.method == "GET" and path == "/api/version":
            return Reply.json({"version": self.version})
        if request.method == "GET" and path == "/api/tags":
            return Reply.json({"models": [self._tag(m) for m in self.models or ["llama3.2"]]})
        if request.method != "POST" or path != "/api/chat":
            return Reply(404, {"content-type": "text/plain"}, b"404 page not found")
        try:
            body = request.json()
        except ValueError as exc:
            return self.error(request, 400, str(exc))
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return self.error(request, 400, "model is required")
        model = body["model"]
        if self.models is not None and not self._known(model):
            return self.error(request, 404, f"model '{model}' not found")
        final = self.chat(body, request.body)
        if body.get("stream", True):
            return Reply(200, {"content-type": "application/x-ndjson"}, chunks=self.lines(final))
        return Reply.json(final)

    def error(self, request: StandinRequest, status: int, message: str) -> Reply:
        return Reply.json({"error": message}, status=status)

    def stream_error_event(self, request: StandinRequest, message: str) -> bytes:
        return ndjson({"error": message})

    # --- the scripted model --------------------------------------------------

    def chat(self, body: dict[str, Any], raw: bytes) -> dict[str, Any]:
        """The complete non-streamed answer to ``body``."""
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        last = messages[-1] if messages else {}
        tools: list[dict[str, Any]] = []
        for t in body.get("tools") or []:
            fn = t.get("function") if isinstance(t, dict) else None
            if isinstance(fn, dict) and fn.get("name"):
                tools.append(fn)
        raw_options = body.get("options")
        options: dict[str, Any] = raw_options if isinstance(raw_options, dict) else {}
        message: dict[str, Any] = {"role": "assistant", "content": ""}
        reason = "stop"
        if last.get("role") == "user" and tools:
            tool = tools[0]
            message["tool_calls"] = [{"function": {
                "name": tool["name"],
                "arguments": example_for(tool.get("parameters") or {}) or {},
            }}]
            out_tokens = 10
        else:
            if last.get("role") == "tool":
                text = f"The tool returned: {str(last.get('content', ''))[:_ECHO]}"
            elif body.get("format"):
                fmt = body["format"]
                value = example_for(fmt) if isinstance(fmt, dict) else {
                    "answer": str(last.get("content", ""))[:_ECHO]}
                text = json.dumps(value)
            else:
                text = f"Hello from the Ollama stand-in: {str(last.get('content', ''))[:_ECHO]}"
            cuts = [text.find(s) for s in options.get("stop") or [] if s and s in text]
            if cuts:
                text = text[: min(cuts)]
            words = text.split(" ")
            limit = options.get("num_predict")
            if isinstance(limit, int) and 0 <= limit < len(words):
                words, reason = words[:limit], "length"
                text = " ".join(words)
            message["content"] = text
            out_tokens = len(words)
        return {
            "model": body.get("model"),
            "created_at": _CREATED,
            "message": message,
            "done_reason": reason,
            "done": True,
            "total_duration": 182242375,
            "load_duration": 41295167,
            "prompt_eval_count": max(1, len(raw) // 4),
            "prompt_eval_duration": 24573166,
            "eval_count": max(1, out_tokens),
            "eval_duration": 115959084,
        }

    def lines(self, final: dict[str, Any]) -> list[bytes]:
        """The answer as the NDJSON lines the streaming API sends."""
        model, message = final["model"], final["message"]
        out: list[bytes] = []
        if message.get("tool_calls"):
            out.append(ndjson({"model": model, "created_at": _CREATED, "message": {
                "role": "assistant", "content": "", "tool_calls": message["tool_calls"]},
                "done": False}))
        else:
            words = message["content"].split(" ")
            for i, word in enumerate(words):
                piece = word if i == 0 else " " + word
                out.append(ndjson({"model": model, "created_at": _CREATED,
                                   "message": {"role": "assistant", "content": piece},
                                   "done": False}))
        last = {**final, "message": {"role": "assistant", "content": ""}}
        out.append(ndjson(last))
        return out

    def _known(self, model: str) -> bool:
        names = set(self.models or [])
        return model in names or f"{model}:latest" in names or model.removesuffix(
            ":latest") in names

    @staticmethod
    def _tag(name: str) -> dict[str, Any]:
        full = name if ":" in name else f"{name}:latest"
        return {"name": full, "model": full, "modified_at": "2025-05-04T17:37:44.706015396-07:00",
                "size": 2019393189, "digest": "a80c4f17acd55265feec403c7aef86be0c25983ab279d83f",
                "details": {"format": "gguf", "family": "llama", "parameter_size": "3.2B",
                            "quantization_level": "Q4_K_M"}}
