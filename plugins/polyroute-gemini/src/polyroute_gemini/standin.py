"""``GeminiResponder``: the ``generateContent`` wire format for ``StandinServer``.

A deterministic scripted model answering in the real formats: JSON
``GenerateContentResponse`` bodies, ``alt=sse`` streams (``data:`` events with
CRLF line ends, the last carrying ``finishReason`` and ``usageMetadata``),
``{"error": {"code", "message", "status", "details"}}`` bodies (a 429 with a
``RetryInfo``), and an in-band ``{"error": ...}`` event. It serves the Gemini
API paths (``/v1beta/models/{model}:generateContent``) and the Vertex AI ones
(``/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:...``).

What it answers:

- a word of ``blocked_words`` in the last user turn → ``promptFeedback.blockReason:
  SAFETY`` and no candidates (as the API blocks a prompt);
- tools given, mode not ``NONE``, last turn the user's text → a ``functionCall``
  of the allowed (or first) function, ``args`` made from its schema;
- last turn holds ``functionResponse`` parts → ``"The tool returned: ..."``;
- ``responseMimeType: application/json`` → JSON from ``responseSchema`` /
  ``responseJsonSchema``, else ``{"answer": <text>}``;
- otherwise ``"Hello from the Gemini stand-in: <last user text>"``.

Each ``functionCall`` it makes carries a ``thoughtSignature``. Like Gemini 3
(https://ai.google.dev/gemini-api/docs/thought-signatures), a ``gemini-3*``
model answers 400 ``INVALID_ARGUMENT`` when a model turn in ``contents`` comes
back with its first ``functionCall`` unsigned, or signed with something neither
it issued nor the documented placeholder ``skip_thought_signature_validator``.

``stopSequences`` cut the text; ``maxOutputTokens`` cuts it by words
(``MAX_TOKENS``). Token counts: about four bytes per prompt token, one per
output word. Without a key it answers 403 ``PERMISSION_DENIED``; with
``require_api_key`` set, a different key gets 400 ``API_KEY_INVALID``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from polyroute.testing.schema_example import example_for
from polyroute.testing.standin import Reply, StandinRequest
from polyroute_gemini.request import FOREIGN_SIGNATURE

__all__ = ["GeminiResponder", "sse_event"]

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
_PATH = re.compile(r"models/(?P<model>[^/:]+):(?P<method>generateContent|streamGenerateContent)")
_ECHO_CHARS = 200


def sse_event(data: Any) -> bytes:
    """One ``alt=sse`` event, framed as the Gemini API frames it (CRLF line ends)."""
    return b"data: " + json.dumps(data).encode() + b"\r\n\r\n"


def _digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:20]


class GeminiResponder:
    """Speaks the Gemini ``generateContent`` API (Gemini API and Vertex AI paths)."""

    def __init__(
        self,
        *,
        require_api_key: str | None = None,
        blocked_words: tuple[str, ...] = (),
        words_per_chunk: int = 2,
        models: tuple[str, ...] = ("gemini-2.5-flash", "gemini-2.5-pro", "gemini-2.0-flash"),
    ) -> None:
        self.require_api_key = require_api_key
        self.blocked_words = blocked_words
        self.words_per_chunk = max(1, words_per_chunk)
        self.models = models
        self._issued: set[str] = set()  # thoughtSignatures handed out

    # --- Responder protocol --------------------------------------------------

    def answer(self, request: StandinRequest) -> Reply:
        key = request.headers.get("x-goog-api-key") or request.headers.get(
            "authorization", "").removeprefix("Bearer ")
        if not key:
            return self.error(request, 403, "Method doesn't allow unregistered callers "
                              "(callers without established identity). Please use API Key "
                              "or other form of API consumer identity to call this API.")
        if self.require_api_key is not None and key != self.require_api_key:
            return self._invalid_key(request)
        path = request.path.split("?", 1)[0]
        if request.method == "GET" and path.rstrip("/").endswith("/models"):
            return Reply.json({"models": [self._model_entry(m) for m in self.models]})
        match = _PATH.search(path)
        if request.method != "POST" or match is None:
            return self.error(request, 404, f"Requested entity was not found: {path}")
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("contents"), list):
            return self.error(request, 400, "* GenerateContentRequest.contents: contents is "
                              "not specified")
        if match.group("model").startswith("gemini-3"):
            unsigned = self._unsigned_call(body["contents"])
            if unsigned is not None:
                return self.error(request, 400, unsigned)
        response = self.response(body, match.group("model"), request.body)
        if match.group("method") == "streamGenerateContent":
            return Reply(200, {"content-type": "text/event-stream"},
                         chunks=self.events(response))
        return Reply.json(response)

    def error(self, request: StandinRequest, status: int, message: str) -> Reply:
        name = _STATUS_NAMES.get(status, "INTERNAL" if status >= 500 else "INVALID_ARGUMENT")
        err: dict[str, Any] = {"code": status, "message": message, "status": name}
        if status == 429:
            err["details"] = [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{
                    "quotaMetric": "generativelanguage.googleapis.com/"
                                   "generate_content_paid_tier_input_token_count",
                    "quotaId": "GenerateContentPaidTierInputTokensPerModelPerMinute",
                }]},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "0.02s"},
            ]
        return Reply.json({"error": err}, status=status)

    def stream_error_event(self, request: StandinRequest, message: str) -> bytes:
        return sse_event({"error": {"code": 503, "message": message, "status": "UNAVAILABLE"}})

    # --- the scripted model --------------------------------------------------

    def _invalid_key(self, request: StandinRequest) -> Reply:
        err = {"code": 400, "message": "API key not valid. Please pass a valid API key.",
               "status": "INVALID_ARGUMENT",
               "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                            "reason": "API_KEY_INVALID", "domain": "googleapis.com",
                            "metadata": {"service": "generativelanguage.googleapis.com"}}]}
        return Reply.json({"error": err}, status=400)

    def _unsigned_call(self, contents: list[Any]) -> str | None:
        """Gemini 3's check: each model turn's first ``functionCall`` is signed."""
        for position, turn in enumerate(contents):
            if not isinstance(turn, dict) or turn.get("role") != "model":
                continue
            calls = [p for p in turn.get("parts") or []
                     if isinstance(p, dict) and isinstance(p.get("functionCall"), dict)]
            if not calls:
                continue
            signature = calls[0].get("thoughtSignature")
            if signature == FOREIGN_SIGNATURE or signature in self._issued:
                continue
            name = calls[0]["functionCall"].get("name", "")
            return (f"Function call is missing a thought_signature in functionCall parts. "
                    f"This is required for tools to work correctly. Additional data, "
                    f"function call `default_api:{name}` , position {position + 1}. Please "
                    "refer to https://ai.google.dev/gemini-api/docs/thought-signatures for "
                    "more details.")
        return None

    @staticmethod
    def _model_entry(model: str) -> dict[str, Any]:
        return {"name": f"models/{model}", "version": "001", "displayName": model,
                "inputTokenLimit": 1048576, "outputTokenLimit": 65536,
                "supportedGenerationMethods": ["generateContent", "countTokens"]}

    def response(self, body: dict[str, Any], model: str, raw: bytes) -> dict[str, Any]:
        """The complete ``GenerateContentResponse`` this model answers ``body`` with."""
        digest = _digest(raw)
        contents = [c for c in body["contents"] if isinstance(c, dict)]
        last = contents[-1] if contents else {}
        parts = [p for p in last.get("parts") or [] if isinstance(p, dict)]
        results = [p["functionResponse"] for p in parts if isinstance(
            p.get("functionResponse"), dict)]
        user_text = " ".join(str(p.get("text", "")) for p in parts if "text" in p)
        envelope: dict[str, Any] = {"modelVersion": model, "responseId": f"standin-{digest}"}
        prompt_tokens = max(1, len(raw) // 4)
        if any(w.lower() in user_text.lower() for w in self.blocked_words):
            return {**envelope,
                    "promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
                        {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH",
                         "blocked": True}]},
                    "usageMetadata": {"promptTokenCount": prompt_tokens,
                                      "totalTokenCount": prompt_tokens}}
        config = ((body.get("toolConfig") or {}).get("functionCallingConfig") or {})
        mode = config.get("mode", "AUTO")
        decls = [d for t in body.get("tools") or [] if isinstance(t, dict)
                 for d in t.get("functionDeclarations") or [] if isinstance(d, dict)]
        allowed = config.get("allowedFunctionNames") or []
        out_parts: list[dict[str, Any]]
        finish = "STOP"
        if decls and mode != "NONE" and last.get("role") == "user" and not results:
            decl = next((d for d in decls if d.get("name") in allowed), decls[0])
            args = example_for(decl.get("parameters") or {"type": "object"}) or {}
            signature = base64.b64encode(f"standin-thought-{digest}".encode()).decode()
            self._issued.add(signature)
            out_parts = [{"functionCall": {"name": decl.get("name", ""), "args": args},
                          "thoughtSignature": signature}]
            output_tokens = len(json.dumps(args).split()) + 5
        else:
            if results:
                quoted = "; ".join(json.dumps(r.get("response")) for r in results)
                text = f"The tool returned: {quoted[:_ECHO_CHARS]}"
            else:
                text = f"Hello from the Gemini stand-in: {user_text[:_ECHO_CHARS]}"
            gen = body.get("generationConfig") or {}
            if gen.get("responseMimeType") == "application/json":
                schema = gen.get("responseSchema") or gen.get("responseJsonSchema")
                text = json.dumps(example_for(schema) if schema else {"answer": text})
            cut = [text.find(s) for s in gen.get("stopSequences") or [] if s and s in text]
            if cut:
                text = text[: min(cut)]
            words = text.split(" ")
            limit = gen.get("maxOutputTokens")
            if isinstance(limit, int) and 0 < limit < len(words):
                words, finish = words[:limit], "MAX_TOKENS"
                text = " ".join(words)
            out_parts = [{"text": text}]
            output_tokens = len(words)
        return {
            **envelope,
            "candidates": [{"content": {"parts": out_parts, "role": "model"},
                            "finishReason": finish, "index": 0}],
            "usageMetadata": {
                "promptTokenCount": prompt_tokens,
                "candidatesTokenCount": max(1, output_tokens),
                "totalTokenCount": prompt_tokens + max(1, output_tokens),
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": prompt_tokens}],
            },
        }

    def events(self, response: dict[str, Any]) -> list[bytes]:
        """``response`` as the ``alt=sse`` event sequence the streaming method sends."""
        if "candidates" not in response:
            return [sse_event(response)]
        envelope = {k: response[k] for k in ("modelVersion", "responseId")}
        candidate = response["candidates"][0]
        parts = candidate["content"]["parts"]
        pieces: list[dict[str, Any]] = []
        for part in parts:
            if "text" in part:
                words = re.findall(r"\S+\s*", part["text"]) or [part["text"]]
                step = self.words_per_chunk
                pieces += [{"text": "".join(words[i:i + step])}
                           for i in range(0, len(words), step)]
            else:
                pieces.append(part)
        usage = response["usageMetadata"]
        out = []
        for i, piece in enumerate(pieces):
            cand: dict[str, Any] = {"content": {"parts": [piece], "role": "model"}, "index": 0}
            event: dict[str, Any] = {"candidates": [cand], **envelope}
            if i == len(pieces) - 1:
                cand["finishReason"] = candidate["finishReason"]
                event["usageMetadata"] = usage
            else:
                event["usageMetadata"] = {"promptTokenCount": usage["promptTokenCount"],
                                          "totalTokenCount": usage["promptTokenCount"]}
            out.append(sse_event(event))
        return out
