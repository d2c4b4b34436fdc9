"""``OpenAIResponder``: the Chat Completions wire format for polyroute's stand-in server.

A deterministic *scripted model*, good enough for end-to-end and LangChain
standard tests without a key or a network::

    from polyroute.testing.standin import StandinServer
    with StandinServer(OpenAIResponder()) as server:
        ...  # base_url = server.url + "/v1"

What it answers, in order:
- tools given, ``tool_choice`` not ``"none"``, and the choice forces a function,
  is ``"required"``, or the last message is the user's → a call to the forced
  (or first) tool, arguments generated from its JSON schema (the first string
  argument takes the first phrase the user quoted);
- last message a tool result → text mentioning the result;
- ``response_format`` ``json_schema`` → JSON generated from the schema;
  ``json_object`` → the keys the prompt names in quotes, else ``{"answer": <text>}``;
- otherwise ``model_reply`` (fixed text or a function of the request body), or
  ``"Hello from the OpenAI stand-in: <echo of the last user text>"``.
``stop`` truncates at the first stop sequence; ``max_completion_tokens`` /
``max_tokens`` truncate by words (finish reason ``length``). Token counts are
word counts. Streams cut text into several deltas and tool-call arguments into
several fragments, send the usage chunk when asked, then ``data: [DONE]``.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from polyroute.testing.standin import Reply, StandinRequest, echo, message_text, sse
from polyroute_openai.schema_example import example_for_schema

__all__ = ["OpenAIResponder"]

CREATED = 1741569952
_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}
_ECHO_WORDS = 12


class OpenAIResponder:
    """Speaks OpenAI Chat Completions (JSON and SSE) for ``StandinServer``."""

    def __init__(
        self,
        *,
        model_reply: str | Callable[[dict[str, Any]], str] | None = None,
        words_per_chunk: int = 2,
        argument_fragment_chars: int = 8,
        require_api_key: str | None = None,
        models: tuple[str, ...] = ("gpt-4.1", "gpt-4.1-mini", "gpt-4o-mini"),
    ) -> None:
        self.model_reply = model_reply
        self.words_per_chunk = max(1, words_per_chunk)
        self.argument_fragment_chars = max(1, argument_fragment_chars)
        self.require_api_key = require_api_key
        self.models = models
        self._ids = itertools.count(1)

    # --- Responder protocol --------------------------------------------------

    def answer(self, request: StandinRequest) -> Reply:
        path = request.path.split("?", 1)[0].rstrip("/")
        if self.require_api_key is not None and not self._authorised(request):
            return self.error(request, 401, "Incorrect API key provided.")
        if request.method == "GET" and path.endswith("/models"):
            data = [{"id": m, "object": "model", "created": CREATED, "owned_by": "standin"}
                    for m in self.models]
            return Reply.json({"object": "list", "data": data})
        if request.method != "POST" or not path.endswith("/chat/completions"):
            return self.error(request, 404, f"Unknown request URL: {request.method} {path}")
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self.error(request, 400, "'messages' is a required property")
        n = next(self._ids)
        try:
            result = self._script(body, n)
        except LookupError as exc:
            return self.error(request, 400, str(exc))
        headers = {"x-request-id": f"req_standin{n:06d}", "openai-processing-ms": "1"}
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            chunks = self._stream(body, n, result, include_usage)
            return Reply(200, {"content-type": "text/event-stream", **headers}, chunks=chunks)
        return Reply.json(self._completion(body, n, result), headers=headers)

    def error(self, request: StandinRequest, status: int, message: str) -> Reply:
        kind, code = _ERROR_KINDS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None)
        )
        headers = {"x-request-id": f"req_standin_err{status}"}
        if status == 429:
            headers.update({"x-ratelimit-remaining-requests": "0",
                            "x-ratelimit-reset-requests": "20ms"})
        body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
        return Reply.json(body, status=status, headers=headers)

    def stream_error_event(self, request: StandinRequest, message: str) -> bytes:
        return sse({"error": {"message": message, "type": "server_error", "param": None,
                              "code": None}})

    # --- the scripted model --------------------------------------------------

    def _authorised(self, request: StandinRequest) -> bool:
        want = self.require_api_key
        return request.headers.get("authorization") == f"Bearer {want}" or (
            request.headers.get("api-key") == want
        )

    def _script(self, body: dict[str, Any], n: int) -> dict[str, Any]:
        messages = [m for m in body["messages"] if isinstance(m, Mapping)]
        last = messages[-1] if messages else {}
        tools = [t for t in body.get("tools") or []
                 if isinstance(t, Mapping) and isinstance(t.get("function"), Mapping)]
        choice = body.get("tool_choice")
        forced = None
        if isinstance(choice, Mapping):
            forced = (choice.get("function") or {}).get("name")
        if tools and choice != "none" and (
            forced or choice == "required" or last.get("role") == "user"
        ):
            tool = tools[0]
            if forced:
                tool = next((t for t in tools if t["function"].get("name") == forced), {})
                if not tool:
                    raise LookupError(f"Invalid tool_choice: no function named '{forced}'")
            fn = tool["function"]
            example = example_for_schema(fn.get("parameters") or {})
            quoted = _quoted(_last_user_text(messages))
            if quoted and isinstance(example, dict):
                # Like a real model, take a value the user spelled out in quotes.
                first = next((k for k, v in example.items() if isinstance(v, str)), None)
                if first is not None:
                    example[first] = quoted[0]
            args = json.dumps(example, ensure_ascii=False)
            call = {"id": f"call_standin{n:06d}", "type": "function",
                    "function": {"name": fn.get("name", ""), "arguments": args}}
            return {"text": None, "tool_calls": [call], "finish": "tool_calls",
                    "output_tokens": max(1, len(re.findall(r"\w+", args)))}
        text = self._text(body, messages, last)
        finish = "stop"
        fmt = body.get("response_format") or {}
        if fmt.get("type") == "json_schema":
            schema = (fmt.get("json_schema") or {}).get("schema") or {}
            text = json.dumps(example_for_schema(schema))
        elif fmt.get("type") == "json_object":
            # Keys the prompt names in quotes ("... with 'setup' and 'punchline' keys").
            keys = [q for q in _quoted(_last_user_text(messages)) if q.isidentifier()]
            text = json.dumps({k: f"{k} text" for k in keys} if keys else {"answer": text})
        stops = body.get("stop")
        stops = [stops] if isinstance(stops, str) else list(stops or [])
        cuts = [text.find(s) for s in stops if isinstance(s, str) and s and s in text]
        if cuts:
            text = text[: min(cuts)]
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        words = text.split(" ")
        if isinstance(limit, int) and 0 < limit < len(words):
            text, finish = " ".join(words[:limit]), "length"
        return {"text": text, "tool_calls": [], "finish": finish,
                "output_tokens": max(1, len(text.split()))}

    def _text(
        self, body: dict[str, Any], messages: list[Mapping[str, Any]], last: Mapping[str, Any]
    ) -> str:
        if last.get("role") == "tool":
            result = " ".join(message_text(last.get("content")).split()[:40])
            return f"The tool returned: {result}"
        if callable(self.model_reply):
            return self.model_reply(body)
        if isinstance(self.model_reply, str):
            return self.model_reply
        return echo(messages, "Hello from the OpenAI stand-in: ", _ECHO_WORDS)

    def _usage(self, body: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
        prompt = sum(len(message_text(m.get("content")).split())
                     for m in body["messages"] if isinstance(m, Mapping))
        prompt += 4 * len(body.get("messages") or []) + 10 * len(body.get("tools") or [])
        out = int(result["output_tokens"])
        return {
            "prompt_tokens": prompt, "completion_tokens": out, "total_tokens": prompt + out,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0,
                                          "rejected_prediction_tokens": 0},
        }

    def _envelope(self, body: dict[str, Any], n: int, obj: str) -> dict[str, Any]:
        return {"id": f"chatcmpl-standin{n:06d}", "object": obj, "created": CREATED,
                "model": str(body.get("model") or "gpt-4.1"), "service_tier": "default",
                "system_fingerprint": "fp_standin"}

    def _completion(self, body: dict[str, Any], n: int, result: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": result["text"],
                                   "refusal": None, "annotations": []}
        if result["tool_calls"]:
            message["tool_calls"] = result["tool_calls"]
        return {
            **self._envelope(body, n, "chat.completion"),
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": result["finish"]}],
            "usage": self._usage(body, result),
        }

    def _stream(
        self, body: dict[str, Any], n: int, result: dict[str, Any], include_usage: bool
    ) -> list[bytes]:
        base = self._envelope(body, n, "chat.completion.chunk")
        extra = {"usage": None} if include_usage else {}

        def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return sse({**base, "choices": [choice], **extra})

        out = [chunk({"role": "assistant", "content": "" if result["text"] is not None else None,
                      "refusal": None})]
        text = result["text"] or ""
        words = re.findall(r"\S+\s*", text)
        step = self.words_per_chunk
        # leading whitespace (rare) would be lost by the word split; keep it
        lead = text[: len(text) - len(text.lstrip())]
        for i in range(0, len(words), step):
            piece = "".join(words[i:i + step])
            out.append(chunk({"content": (lead + piece) if i == 0 else piece}))
        for index, call in enumerate(result["tool_calls"]):
            head = {"index": index, "id": call["id"], "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""}}
            out.append(chunk({"tool_calls": [head]}))
            args = call["function"]["arguments"]
            size = self.argument_fragment_chars
            for i in range(0, len(args), size):
                frag = {"index": index, "function": {"arguments": args[i:i + size]}}
                out.append(chunk({"tool_calls": [frag]}))
        out.append(chunk({}, result["finish"]))
        if include_usage:
            out.append(sse({**base, "choices": [], "usage": self._usage(body, result)}))
        out.append(b"data: [DONE]\n\n")
        return out


def _last_user_text(messages: list[Mapping[str, Any]]) -> str:
    user: Mapping[str, Any] = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    return message_text(user.get("content"))


def _quoted(text: str) -> list[str]:
    """Phrases in single or double quotes, in order."""
    return [a or b for a, b in re.findall(r"'([^']+)'|\"([^\"]+)\"", text)]

