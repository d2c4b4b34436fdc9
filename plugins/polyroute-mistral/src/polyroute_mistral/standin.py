"""``MistralResponder``: Mistral's chat completions wire format for ``StandinServer``.

A deterministic scripted model that is as strict as the real API where
polyroute's translation could go wrong:

- an unknown top-level body field (``seed``, ``top_k``, ``stream_options``...)
  gets a 422 ``{"detail": [{"type": "extra_forbidden", ...}]}``, as Mistral's
  request validation answers;
- a tool-call id (assistant ``tool_calls[].id`` or a tool message's
  ``tool_call_id``) that is not nine ``[a-zA-Z0-9]`` characters gets a 400;
- no ``Authorization`` (or, with ``require_api_key``, a different key) gets
  401 ``{"message": "Unauthorized", "request_id": ...}``.

What it answers: a call of the forced (or first) tool when tools are given,
``tool_choice`` is not ``none`` and the last message is the user's (ids are
nine alphanumerics, arguments generated from the schema); after a tool
result, ``"The tool returned: ..."``; JSON for ``response_format``; else
``"Hello from the Mistral stand-in: <last user text>"``. ``stop`` and
``max_tokens`` cut the text. Streams send word deltas, the tool call whole,
then a final chunk with ``finish_reason`` and ``usage``, then ``data: [DONE]``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Mapping
from typing import Any

from polyroute.testing.schema_example import example_for
from polyroute.testing.standin import Reply, StandinRequest, echo, message_text, sse

__all__ = ["MistralResponder"]

CREATED = 1745000000
_FIELDS = frozenset({
    "model", "messages", "temperature", "top_p", "max_tokens", "stream", "stop",
    "random_seed", "response_format", "tools", "tool_choice", "presence_penalty",
    "frequency_penalty", "n", "prediction", "parallel_tool_calls", "prompt_mode",
    "safe_prompt", "metadata",
})
_ID = re.compile(r"^[a-zA-Z0-9]{9}$")
_ECHO_WORDS = 12


class MistralResponder:
    """Speaks Mistral chat completions (JSON and SSE) for ``StandinServer``."""

    def __init__(self, *, require_api_key: str | None = None, words_per_chunk: int = 2,
                 models: tuple[str, ...] = ("mistral-small-latest", "mistral-large-latest",
                                            "codestral-latest")) -> None:
        self.require_api_key = require_api_key
        self.words_per_chunk = max(1, words_per_chunk)
        self.models = models
        self._ids = itertools.count(1)

    # --- Responder protocol --------------------------------------------------

    def answer(self, request: StandinRequest) -> Reply:
        auth = request.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or (
            self.require_api_key is not None and auth != f"Bearer {self.require_api_key}"
        ):
            return self.error(request, 401, "Unauthorized")
        path = request.path.split("?", 1)[0].rstrip("/")
        if request.method == "GET" and path.endswith("/models"):
            data = [{"id": m, "object": "model", "created": CREATED, "owned_by": "mistralai",
                     "capabilities": {"completion_chat": True, "function_calling": True}}
                    for m in self.models]
            data.append({"id": "mistral-embed", "object": "model", "created": CREATED,
                         "owned_by": "mistralai", "capabilities": {"completion_chat": False}})
            return Reply.json({"object": "list", "data": data})
        if request.method != "POST" or not path.endswith("/chat/completions"):
            return self.error(request, 404, "Not Found")
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self._detail(["body", "messages"], "missing", "Field required")
        extra = sorted(set(body) - _FIELDS)
        if extra:
            return self._detail(["body", extra[0]], "extra_forbidden",
                                "Extra inputs are not permitted")
        bad = self._bad_tool_id(body["messages"])
        if bad is not None:
            return Reply.json({"object": "error", "message": f"Tool call id was {bad} but must "
                               "be a-z, A-Z, 0-9, with a length of 9.",
                               "type": "invalid_request_error", "param": None, "code": None},
                              status=400)
        n = next(self._ids)
        result = self._script(body, n)
        headers = {"x-request-id": f"standin{n:06d}"}
        if body.get("stream"):
            return Reply(200, {"content-type": "text/event-stream", **headers},
                         chunks=self._stream(body, n, result))
        return Reply.json(self._completion(body, n, result), headers=headers)

    def error(self, request: StandinRequest, status: int, message: str) -> Reply:
        rid = hashlib.sha256(request.body).hexdigest()[:32]
        if status in (401, 429):  # the gateway's shape
            if status == 429 and message.startswith("injected"):
                message = "Requests rate limit exceeded"
            return Reply.json({"message": message, "request_id": rid}, status=status,
                              headers={"x-request-id": rid})
        kind = "internal_server_error" if status >= 500 else "invalid_request_error"
        return Reply.json({"object": "error", "message": message, "type": kind, "param": None,
                           "code": None}, status=status, headers={"x-request-id": rid})

    def stream_error_event(self, request: StandinRequest, message: str) -> bytes:
        return sse({"object": "error", "message": message, "type": "internal_server_error",
                    "param": None, "code": None})

    # --- the scripted model --------------------------------------------------

    @staticmethod
    def _detail(loc: list[str], kind: str, msg: str) -> Reply:
        return Reply.json({"detail": [{"type": kind, "loc": loc, "msg": msg, "input": None}]},
                          status=422)

    @staticmethod
    def _bad_tool_id(messages: list[Any]) -> str | None:
        for m in messages:
            if not isinstance(m, Mapping):
                continue
            ids = [c.get("id") for c in m.get("tool_calls") or [] if isinstance(c, Mapping)]
            if m.get("role") == "tool":
                ids.append(m.get("tool_call_id"))
            for i in ids:
                if not isinstance(i, str) or not _ID.match(i):
                    return str(i)
        return None

    def _script(self, body: dict[str, Any], n: int) -> dict[str, Any]:
        messages = [m for m in body["messages"] if isinstance(m, Mapping)]
        last = messages[-1] if messages else {}
        tools = [t["function"] for t in body.get("tools") or []
                 if isinstance(t, Mapping) and isinstance(t.get("function"), Mapping)]
        choice = body.get("tool_choice", "auto")
        forced = choice.get("function", {}).get("name") if isinstance(choice, Mapping) else None
        if tools and choice != "none" and (forced or choice in ("any", "required")
                                           or last.get("role") == "user"):
            fn = next((t for t in tools if t.get("name") == forced), tools[0])
            args = json.dumps(example_for(fn.get("parameters") or {"type": "object"}) or {})
            call_id = hashlib.sha256(f"{n}".encode()).hexdigest()[:9]
            call = {"id": call_id, "type": "function", "index": 0,
                    "function": {"name": fn.get("name", ""), "arguments": args}}
            return {"text": "", "tool_calls": [call], "finish": "tool_calls",
                    "output_tokens": max(1, len(args.split()))}
        if last.get("role") == "tool":
            text = f"The tool returned: {' '.join(str(last.get('content', '')).split()[:40])}"
        else:
            text = echo(messages, "Hello from the Mistral stand-in: ", _ECHO_WORDS)
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            text = json.dumps(example_for((fmt.get("json_schema") or {}).get("schema") or {}))
        elif fmt.get("type") == "json_object":
            text = json.dumps({"answer": text})
        finish = "stop"
        stops = body.get("stop")
        stops = [stops] if isinstance(stops, str) else list(stops or [])
        cuts = [text.find(s) for s in stops if isinstance(s, str) and s and s in text]
        if cuts:
            text = text[: min(cuts)]
        words = text.split(" ")
        limit = body.get("max_tokens")
        if isinstance(limit, int) and 0 < limit < len(words):
            text, finish = " ".join(words[:limit]), "length"
        return {"text": text, "tool_calls": [], "finish": finish,
                "output_tokens": max(1, len(text.split()))}

    @staticmethod
    def _usage(body: dict[str, Any], result: dict[str, Any]) -> dict[str, int]:
        prompt = sum(len(message_text(m.get("content")).split()) + 4 for m in body["messages"]
                     if isinstance(m, Mapping))
        out = int(result["output_tokens"])
        return {"prompt_tokens": prompt, "completion_tokens": out, "total_tokens": prompt + out}

    def _completion(self, body: dict[str, Any], n: int, result: dict[str, Any]
                    ) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": result["text"],
                                   "tool_calls": result["tool_calls"] or None, "prefix": False}
        return {"id": f"standin{n:024x}", "object": "chat.completion", "created": CREATED,
                "model": str(body.get("model") or "mistral-small-latest"),
                "choices": [{"index": 0, "message": message,
                             "finish_reason": result["finish"]}],
                "usage": self._usage(body, result)}

    def _stream(self, body: dict[str, Any], n: int, result: dict[str, Any]) -> list[bytes]:
        base = {"id": f"standin{n:024x}", "object": "chat.completion.chunk",
                "created": CREATED, "model": str(body.get("model") or "mistral-small-latest")}

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
            return sse({**base, "choices": [{"index": 0, "delta": delta,
                                             "finish_reason": finish}], **extra})

        out = [chunk({"role": "assistant", "content": ""})]
        words = re.findall(r"\S+\s*", result["text"])
        step = self.words_per_chunk
        out += [chunk({"content": "".join(words[i:i + step])})
                for i in range(0, len(words), step)]
        if result["tool_calls"]:
            out.append(chunk({"tool_calls": result["tool_calls"]}))
        out.append(chunk({"content": ""}, result["finish"], usage=self._usage(body, result)))
        out.append(b"data: [DONE]\n\n")
        return out

