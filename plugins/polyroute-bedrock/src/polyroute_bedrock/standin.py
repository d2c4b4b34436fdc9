"""``BedrockResponder``: the Converse API for ``polyroute.testing.standin.StandinServer``.

A deterministic scripted model in the real wire formats:

- ``POST /model/{modelId}/converse`` → a Converse JSON body;
- ``POST /model/{modelId}/converse-stream`` → ``application/vnd.amazon.eventstream``:
  real binary event-stream messages (prelude, headers, payload, both CRCs),
  ``messageStart``, ``contentBlockStart`` (tool use), ``contentBlockDelta``
  (text words / input fragments), ``contentBlockStop``, ``messageStop``,
  ``metadata``; a mid-stream fault is a ``:message-type: exception`` message;
- ``GET /foundation-models`` → a ``ListFoundationModels`` body;
- errors: ``{"message"}`` with ``x-amzn-ErrorType`` and ``x-amzn-RequestId``.

Authentication is checked like the service does it: a request needs
``Authorization``. ``Bearer <token>`` must equal ``bearer_token`` (if set). A
SigV4 ``Authorization`` is **verified** when ``credentials`` (access key,
secret) are given: the canonical request is rebuilt from what arrived (method,
path as sent, the signed headers, the body) with botocore and the signature
compared — so a test proves the provider's signature is what AWS would accept.

The model: tools given and the last user turn has no tool results → a
``toolUse`` of the forced tool (else the first) with an input made from its
schema; a ``toolResult`` → ``"The tool returned: ..."``; otherwise
``"Hello from the Bedrock stand-in: <last user text>"``. ``stopSequences``
and ``maxTokens`` cut the text like the real thing.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import unquote

from polyroute.testing.standin import Reply, StandinRequest
from polyroute_bedrock.eventstream import encode_message

__all__ = ["BedrockResponder", "event_frame", "example_for", "exception_frame"]

_ERRORS = {
    400: "ValidationException", 403: "AccessDeniedException", 404: "ResourceNotFoundException",
    408: "ModelTimeoutException", 424: "ModelErrorException", 429: "ThrottlingException",
    500: "InternalServerException", 503: "ServiceUnavailableException",
}
_AUTH = re.compile(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,"
                   r"\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})")
_PATH = re.compile(r"^/model/([^/]+)/(converse|converse-stream)$")


def event_frame(event_type: str, payload: dict[str, Any]) -> bytes:
    """One ConverseStream event as an event-stream message."""
    return encode_message({":event-type": event_type, ":content-type": "application/json",
                           ":message-type": "event"}, json.dumps(payload).encode())


def exception_frame(exception_type: str, message: str) -> bytes:
    """One in-stream exception (``throttlingException``...) as an event-stream message."""
    return encode_message({":exception-type": exception_type,
                           ":content-type": "application/json",
                           ":message-type": "exception"}, json.dumps({"message": message}).encode())


def example_for(schema: object, depth: int = 0) -> Any:
    """A deterministic instance of a (simple) JSON schema."""
    if not isinstance(schema, dict) or depth > 6:
        return None
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type", "object" if "properties" in schema else None)
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    if kind == "object":
        props = schema.get("properties")
        return {k: example_for(v, depth + 1) for k, v in props.items()} if isinstance(
            props, dict) else {}
    if kind == "array":
        return [example_for(schema.get("items", {"type": "string"}), depth + 1)]
    return {"string": "example", "integer": 3, "number": 1.5, "boolean": True}.get(str(kind))


def _rid(raw: bytes) -> str:
    h = hashlib.sha256(raw).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


class BedrockResponder:
    """Speaks Bedrock's Converse API for the stand-in server."""

    def __init__(self, *, credentials: tuple[str, str] | None = None,
                 bearer_token: str | None = None, region: str = "us-east-1") -> None:
        self.credentials = credentials
        if credentials is not None:  # import botocore now, not on a server thread mid-test
            import botocore.auth
            import botocore.awsrequest
            import botocore.credentials  # noqa: F401
        self.bearer_token = bearer_token
        self.region = region
        self.auth_failures: list[str] = []

    # --- Responder protocol --------------------------------------------------

    def answer(self, request: StandinRequest) -> Reply:
        denied = self._check_auth(request)
        if denied is not None:
            return denied
        path = request.path.split("?")[0]
        if request.method == "GET" and path == "/foundation-models":
            return Reply.json({"modelSummaries": [
                {"modelId": "anthropic.claude-haiku-4-5-20251001-v1:0", "providerName": "Anthropic",
                 "outputModalities": ["TEXT"], "responseStreamingSupported": True},
                {"modelId": "amazon.titan-image-generator-v2:0", "providerName": "Amazon",
                 "outputModalities": ["IMAGE"], "responseStreamingSupported": False},
            ]}, headers={"x-amzn-requestid": _rid(b"models")})
        match = _PATH.match(path)
        if request.method != "POST" or match is None:
            return self._error(request, 404, "UnknownOperationException", "Unknown operation")
        try:
            body = request.json()
        except ValueError:
            return self.error(request, 400, "Malformed input request, please reformat your input")
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            return self.error(request, 400, "1 validation error detected: Value null at "
                                            "'messages' failed to satisfy constraint")
        model = unquote(match.group(1))
        answer = self.converse(body, request.body)
        headers = {"x-amzn-requestid": _rid(request.body)}
        if match.group(2) == "converse-stream":
            return Reply(200, {"content-type": "application/vnd.amazon.eventstream", **headers},
                         chunks=self.events(answer))
        answer["metrics"] = {"latencyMs": 321}
        return Reply.json(answer, headers={**headers, "x-standin-model": model})

    def error(self, request: StandinRequest, status: int, message: str) -> Reply:
        return self._error(request, status, _ERRORS.get(
            status, "InternalServerException" if status >= 500 else "ValidationException"),
            message)

    def stream_error_event(self, request: StandinRequest, message: str) -> bytes:
        return exception_frame("modelStreamErrorException", message)

    def _error(self, request: StandinRequest, status: int, kind: str, message: str) -> Reply:
        return Reply.json({"message": message}, status=status, headers={
            "x-amzn-errortype": f"{kind}:http://internal.amazon.com/coral/com.amazon.bedrock/",
            "x-amzn-requestid": _rid(request.body + kind.encode())})

    # --- authentication ------------------------------------------------------

    def _check_auth(self, request: StandinRequest) -> Reply | None:
        auth = request.headers.get("authorization", "")
        if not auth:
            return self._error(request, 403, "MissingAuthenticationTokenException",
                               "Missing Authentication Token")
        if auth.startswith("Bearer "):
            if self.bearer_token is not None and auth[7:] != self.bearer_token:
                return self._error(request, 403, "UnrecognizedClientException",
                                   "The security token included in the request is invalid.")
            return None
        match = _AUTH.match(auth)
        if match is None:
            return self._error(request, 403, "IncompleteSignatureException",
                               "Authorization header requires 'Credential' parameter.")
        if self.credentials is None:
            return None
        why = self._verify(request, match)
        if why is not None:
            self.auth_failures.append(why)
            return self._error(request, 403, "InvalidSignatureException", why)
        return None

    def _verify(self, request: StandinRequest, match: re.Match[str]) -> str | None:
        from botocore.auth import SigV4Auth  # imported in __init__ already: no import here
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials

        assert self.credentials is not None
        key_id, _day, region, service, signed, signature = match.groups()
        if key_id != self.credentials[0]:
            return "The security token included in the request is invalid."
        names = signed.split(";")
        headers = {n: request.headers.get(n, "") for n in names if n != "host"}
        url = f"http://{request.headers.get('host', '')}{request.path}"
        aws = AWSRequest(method=request.method, url=url, data=request.body, headers=headers)
        aws.context["timestamp"] = request.headers.get("x-amz-date", "")
        creds = Credentials(key_id, self.credentials[1],
                            request.headers.get("x-amz-security-token"))
        signer = SigV4Auth(creds, service, region)
        expected = signer.signature(signer.string_to_sign(aws, signer.canonical_request(aws)),
                                    aws)
        if expected != signature:
            return ("The request signature we calculated does not match the signature you "
                    "provided.")
        return None

    # --- the scripted model --------------------------------------------------

    def converse(self, body: dict[str, Any], raw: bytes) -> dict[str, Any]:
        """The complete Converse response (without ``metrics``) for ``body``."""
        messages = [m for m in body["messages"] if isinstance(m, dict)]
        last = messages[-1] if messages else {}
        blocks = [b for b in last.get("content") or [] if isinstance(b, dict)]
        results = [b["toolResult"] for b in blocks if isinstance(b.get("toolResult"), dict)]
        raw_config = body.get("toolConfig")
        tool_config: dict[str, Any] = raw_config if isinstance(raw_config, dict) else {}
        tools = [t["toolSpec"] for t in tool_config.get("tools") or []
                 if isinstance(t, dict) and isinstance(t.get("toolSpec"), dict)]
        choice = tool_config.get("toolChoice") or {}
        inference = body.get("inferenceConfig") or {}
        usage_in = max(1, len(raw) // 4)
        if last.get("role") == "user" and results:
            quoted = "; ".join("".join(str(c.get("text", "")) for c in r.get("content") or []
                                       if isinstance(c, dict)) for r in results)
            text = f"The tool returned: {quoted[:200]}"
        elif last.get("role") == "user" and tools:
            forced = (choice.get("tool") or {}).get("name") if isinstance(choice, dict) else None
            tool = next((t for t in tools if t.get("name") == forced), tools[0])
            schema = (tool.get("inputSchema") or {}).get("json") or {"type": "object"}
            use = {"toolUseId": f"tooluse_{hashlib.sha256(raw).hexdigest()[:22]}",
                   "name": tool["name"], "input": example_for(schema) or {}}
            return self._wrap([{"toolUse": use}], "tool_use", usage_in, 12)
        else:
            echo = "".join(str(b.get("text", "")) for b in blocks if "text" in b)
            text = f"Hello from the Bedrock stand-in: {echo[:200]}"
        reason = "end_turn"
        cuts = [text.find(s) for s in inference.get("stopSequences") or [] if s and s in text]
        if cuts:
            text, reason = text[: min(cuts)], "stop_sequence"
        words = text.split(" ")
        limit = inference.get("maxTokens")
        if isinstance(limit, int) and len(words) > limit:
            words, reason = words[:limit], "max_tokens"
            text = " ".join(words)
        return self._wrap([{"text": text}], reason, usage_in, len(words))

    @staticmethod
    def _wrap(content: list[dict[str, Any]], reason: str, inp: int, out: int) -> dict[str, Any]:
        return {"output": {"message": {"role": "assistant", "content": content}},
                "stopReason": reason,
                "usage": {"inputTokens": inp, "outputTokens": out, "totalTokens": inp + out,
                          "cacheReadInputTokens": 0, "cacheWriteInputTokens": 0}}

    def events(self, answer: dict[str, Any]) -> list[bytes]:
        """The answer as the ConverseStream event sequence, one binary message each."""
        out = [event_frame("messageStart", {"role": "assistant"})]
        for index, block in enumerate(answer["output"]["message"]["content"]):
            if "toolUse" in block:
                use = block["toolUse"]
                out.append(event_frame("contentBlockStart", {"contentBlockIndex": index, "start": {
                    "toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}}))
                raw = json.dumps(use["input"])
                third = max(1, len(raw) // 3)
                for piece in (raw[:third], raw[third:2 * third], raw[2 * third:]):
                    if piece:
                        out.append(event_frame("contentBlockDelta", {
                            "contentBlockIndex": index, "delta": {"toolUse": {"input": piece}}}))
            else:
                for i, word in enumerate(block["text"].split(" ")):
                    out.append(event_frame("contentBlockDelta", {
                        "contentBlockIndex": index,
                        "delta": {"text": word if i == 0 else " " + word}}))
            out.append(event_frame("contentBlockStop", {"contentBlockIndex": index}))
        out.append(event_frame("messageStop", {"stopReason": answer["stopReason"]}))
        out.append(event_frame("metadata", {"usage": answer["usage"],
                                            "metrics": {"latencyMs": 321}}))
        return out
