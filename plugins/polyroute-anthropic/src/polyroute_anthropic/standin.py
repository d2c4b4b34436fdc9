"""``AnthropicResponder``: the Messages API wire format for ``StandinServer``.

A deterministic scripted model, answering in the real formats (JSON message
bodies, SSE streams with the full event sequence including ``ping``, error
bodies ``{"type": "error", "error": {...}, "request_id": ...}`` and the
in-band ``event: error``):

- tools given (and ``tool_choice`` not ``none``) and the last turn is the
  user's → a ``tool_use`` of the forced tool (else the first), with an input
  made from its ``input_schema`` (see ``polyroute.testing.schema_example``);
- the last user turn holds ``tool_result`` blocks → text quoting the result;
- otherwise → ``"Hello from the Anthropic stand-in: <last user text>"``.

With ``thinking`` enabled (``{"type": "enabled" | "adaptive"}``) every answer
starts with a signed ``thinking`` block (streamed as ``thinking_delta`` then
``signature_delta``), and, as the API does, a tool step whose assistant turn
does not start with a thinking block this stand-in signed answers 400
(https://platform.claude.com/docs/build-with-claude/thinking-tool-workflows).

``stop_sequences`` cut the text (``stop_reason: stop_sequence``) and
``max_tokens`` cuts it by words (``stop_reason: max_tokens``). Usage counts
about four characters per input token and one token per output word. Like
the real API it answers 401 without ``x-api-key`` and 400 when ``model``,
``max_tokens`` or ``messages`` is missing.

    with StandinServer(AnthropicResponder()) as server:
        ...  # ProviderSettings(..., base_url=server.url)
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from polyroute.testing.schema_example import example_for
from polyroute.testing.standin import Reply, StandinRequest, sse

__all__ = ["AnthropicResponder"]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_ECHO_CHARS = 200


def _error_type(status: int) -> str:
    if status in _ERROR_TYPES:
        return _ERROR_TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:24]


class AnthropicResponder:
    """Speaks the Anthropic Messages API for the stand-in server."""

    model_default = "claude-sonnet-4-5"

    def __init__(self) -> None:
        self._signed: set[str] = set()  # thinking signatures handed out

    # --- Responder protocol --------------------------------------------------

    def answer(self, request: StandinRequest) -> Reply:
        # The official SDK (anthropic 2.16.0) sends its api_key as ``Authorization:
        # Bearer``; the API reference names ``x-api-key``. Both authenticate.
        bearer = request.headers.get("authorization", "").startswith("Bearer ")
        if not (request.headers.get("x-api-key") or bearer):
            return self.error(request, 401, "x-api-key header is required")
        try:
            body = request.json()
        except ValueError:
            return self.error(request, 400, "request body is not valid JSON")
        if not isinstance(body, dict):
            return self.error(request, 400, "request body must be a JSON object")
        for field in ("model", "max_tokens", "messages"):
            if field not in body:
                return self.error(request, 400, f"{field}: Field required")
        if _thinking_on(body):
            problem = self._unthought_tool_step(body["messages"])
            if problem is not None:
                return self.error(request, 400, problem)
        message = self.message(body, request.body)
        headers = {"request-id": f"req_standin_{_digest(request.body)}"}
        if body.get("stream"):
            return Reply(
                200,
                {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache",
                 **headers},
                chunks=self.events(message),
            )
        return Reply.json(message, headers=headers)

    def error(self, request: StandinRequest, status: int, message: str) -> Reply:
        rid = f"req_standin_{_digest(request.body)}"
        body = {
            "type": "error",
            "error": {"type": _error_type(status), "message": message},
            "request_id": rid,
        }
        return Reply.json(body, status=status, headers={"request-id": rid})

    def stream_error_event(self, request: StandinRequest, message: str) -> bytes:
        return sse(
            {"type": "error", "error": {"type": "overloaded_error", "message": message}},
            event="error",
        )

    # --- the scripted model --------------------------------------------------

    def message(self, body: dict[str, Any], raw: bytes) -> dict[str, Any]:
        """The complete Message object this model answers ``body`` with."""
        digest = _digest(raw)
        messages = body.get("messages") or []
        last: dict[str, Any] = (
            messages[-1] if messages and isinstance(messages[-1], dict) else {}
        )
        blocks = _blocks(last.get("content"))
        results = [b for b in blocks if b.get("type") == "tool_result"]
        tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("name")]
        choice = body.get("tool_choice")
        choice = choice if isinstance(choice, dict) else {}
        content: list[dict[str, Any]]
        stop_sequence: str | None = None
        if last.get("role") == "user" and results:
            quoted = "; ".join(_result_text(r) for r in results)
            text = f"The tool returned: {quoted[:_ECHO_CHARS]}"
        elif last.get("role") == "user" and tools and choice.get("type") != "none":
            tool = next((t for t in tools if t["name"] == choice.get("name")), tools[0])
            use = {
                "type": "tool_use",
                "id": f"toolu_standin_{digest}",
                "name": tool["name"],
                "input": example_for(tool.get("input_schema") or {"type": "object"}) or {},
            }
            usage = self._usage(raw, len(json.dumps(use["input"]).split()) + 10)
            return self._wrap(body, digest, [*self._thought(body, digest), use], "tool_use",
                              None, usage)
        else:
            echo = "".join(b.get("text", "") for b in blocks if b.get("type") == "text")
            text = f"Hello from the Anthropic stand-in: {echo[:_ECHO_CHARS]}"
        stop_reason = "end_turn"
        cut = [(text.find(s), s) for s in body.get("stop_sequences") or [] if s and s in text]
        if cut:
            at, stop_sequence = min(cut)
            text, stop_reason = text[:at], "stop_sequence"
        words = text.split(" ")
        max_tokens = body.get("max_tokens")
        if isinstance(max_tokens, int) and len(words) > max_tokens:
            words, stop_reason, stop_sequence = words[:max_tokens], "max_tokens", None
            text = " ".join(words)
        content = [*self._thought(body, digest), {"type": "text", "text": text}]
        return self._wrap(body, digest, content, stop_reason, stop_sequence,
                          self._usage(raw, len(words)))

    def _thought(self, body: dict[str, Any], digest: str) -> list[dict[str, Any]]:
        if not _thinking_on(body):
            return []
        signature = f"EqQBCkgIBxABGAIqQ{digest}standin"
        self._signed.add(signature)
        return [{"type": "thinking", "thinking": "Let me think about which tool helps here.",
                 "signature": signature}]

    def _unthought_tool_step(self, messages: object) -> str | None:
        """The API's check: in a tool step (the last user turn holds tool results), the
        assistant turn before it starts with (signed, unmodified) thinking."""
        if not isinstance(messages, list) or len(messages) < 2:
            return None
        last, prior = messages[-1], messages[-2]
        if not isinstance(last, dict) or not isinstance(prior, dict):
            return None
        if not any(b.get("type") == "tool_result" for b in _blocks(last.get("content"))):
            return None
        blocks = _blocks(prior.get("content"))
        at = len(messages) - 2
        if not blocks or blocks[0].get("type") not in ("thinking", "redacted_thinking"):
            found = blocks[0].get("type") if blocks else "nothing"
            return (f"messages.{at}.content.0.type: Expected `thinking` or "
                    f"`redacted_thinking`, but found `{found}`. When `thinking` is enabled, "
                    "a final `assistant` message must start with a thinking block (preceeding "
                    "the lastmost set of `tool_use` and `tool_result` blocks). We recommend "
                    "you include thinking blocks from previous turns. To avoid this "
                    "requirement, disable `thinking`. Please consult our documentation at "
                    "https://docs.claude.com/en/docs/build-with-claude/extended-thinking")
        for i, b in enumerate(blocks):
            if b.get("type") == "thinking" and b.get("signature") not in self._signed:
                return f"messages.{at}.content.{i}: Invalid `signature` in `thinking` block"
        return None

    def _wrap(
        self, body: dict[str, Any], digest: str, content: list[dict[str, Any]],
        stop_reason: str, stop_sequence: str | None, usage: dict[str, int],
    ) -> dict[str, Any]:
        return {
            "id": f"msg_standin_{digest}",
            "type": "message",
            "role": "assistant",
            "model": str(body.get("model") or self.model_default),
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": stop_sequence,
            "usage": usage,
        }

    @staticmethod
    def _usage(raw: bytes, output_tokens: int) -> dict[str, int]:
        return {
            "input_tokens": max(1, len(raw) // 4),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": max(1, output_tokens),
        }

    def events(self, message: dict[str, Any]) -> list[bytes]:
        """The message as the SSE event sequence the streaming API sends."""
        start = {**message, "content": [], "stop_reason": None, "stop_sequence": None,
                 "usage": {**message["usage"], "output_tokens": 1}}
        out = [sse({"type": "message_start", "message": start}, event="message_start")]
        for index, block in enumerate(message["content"]):
            first: dict[str, Any]
            if block["type"] == "text":
                first = {"type": "text", "text": ""}
                words = block["text"].split(" ")
                deltas = [{"type": "text_delta", "text": w if i == 0 else " " + w}
                          for i, w in enumerate(words) if w or i == 0]
            elif block["type"] == "thinking":
                # the SDK's ThinkingBlock requires ``signature``: it starts empty
                first = {"type": "thinking", "thinking": "", "signature": ""}
                deltas = [{"type": "thinking_delta", "thinking": block["thinking"]},
                          {"type": "signature_delta", "signature": block["signature"]}]
            else:
                first = {**block, "input": {}}
                raw = json.dumps(block["input"])
                third = max(1, len(raw) // 3)
                pieces = ["", raw[:third], raw[third:2 * third], raw[2 * third:]]
                deltas = [{"type": "input_json_delta", "partial_json": p}
                          for i, p in enumerate(pieces) if p or i == 0]
            out.append(sse({"type": "content_block_start", "index": index,
                            "content_block": first}, event="content_block_start"))
            if index == 0:
                out.append(sse({"type": "ping"}, event="ping"))
            out += [sse({"type": "content_block_delta", "index": index, "delta": d},
                        event="content_block_delta") for d in deltas]
            out.append(sse({"type": "content_block_stop", "index": index},
                           event="content_block_stop"))
        out.append(sse({
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"],
                      "stop_sequence": message["stop_sequence"]},
            "usage": {"output_tokens": message["usage"]["output_tokens"]},
        }, event="message_delta"))
        out.append(sse({"type": "message_stop"}, event="message_stop"))
        return out


def _thinking_on(body: dict[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def _blocks(content: object) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [b for b in content if isinstance(b, dict)]
    return []


def _result_text(block: dict[str, Any]) -> str:
    content = block.get("content")
    if isinstance(content, list):
        return "".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return str(content or "")
