"""``GenerateContentResponse`` → neutral ``ChatResponse`` (and pieces the stream reuses).

Reference: https://ai.google.dev/api/generate-content#generatecontentresponse
(``candidates[].content.parts``, ``finishReason``, ``promptFeedback``,
``usageMetadata``, ``modelVersion``, ``responseId``).

- Text parts join into the message text; parts with ``thought: true`` (thought
  summaries) never reach it and are kept in ``provider_metadata["thoughts"]``.
- ``functionCall`` parts become ``ToolCallPart``s. Gemini rarely sends an id;
  one is then derived from the response id, the position, the name and the
  arguments (prefix ``gemini-call-``), so replays and caches stay stable.
  A part's ``thoughtSignature`` becomes the call's ``signature`` as
  ``gemini:<signature>`` (the raw signatures are also listed in
  ``provider_metadata["thought_signatures"]``), which the request sends back.
- A prompt block (``promptFeedback.blockReason``) or a candidate stopped for
  ``SAFETY``, ``PROHIBITED_CONTENT``, ``BLOCKLIST``, ``SPII``, ``RECITATION``
  or an image-safety reason raises ``ContentPolicyError``.
- Usage: ``input_tokens`` = ``promptTokenCount`` (which includes cached
  tokens) + ``toolUsePromptTokenCount``; ``output_tokens`` =
  ``candidatesTokenCount`` + ``thoughtsTokenCount`` (thinking is billed as
  output); ``cache_read_tokens`` = ``cachedContentTokenCount``;
  ``reasoning_tokens`` = ``thoughtsTokenCount``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from polyroute.errors import ContentPolicyError, InvalidResponseError
from polyroute.providers.bodies import token_count
from polyroute.types import ChatResponse, FinishReason, Message, Part, TextPart, ToolCallPart, Usage
from polyroute_gemini.errors import policy_error
from polyroute_gemini.request import SIGNATURE_PREFIX, SYNTHETIC_ID_PREFIX

__all__ = [
    "POLICY_FINISH_REASONS",
    "call_id",
    "finish_reason",
    "parse_generate_content",
    "policy_block",
    "usage_from",
]

POLICY_FINISH_REASONS = frozenset({
    "SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION",
    "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION",
})
_FINISH: dict[str, FinishReason] = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "MALFORMED_FUNCTION_CALL": "error",
}


def finish_reason(value: object, *, has_calls: bool = False) -> FinishReason | None:
    """The neutral finish reason; ``STOP`` with function calls is ``tool_calls``."""
    if not isinstance(value, str):
        return None
    if value in POLICY_FINISH_REASONS:
        return "content_filter"
    reason = _FINISH.get(value, "other")
    return "tool_calls" if reason == "stop" and has_calls else reason


_COUNTS = ("promptTokenCount", "toolUsePromptTokenCount", "candidatesTokenCount",
           "thoughtsTokenCount", "cachedContentTokenCount")


def usage_from(meta: object, *, provider: str = "", model: str = "") -> Usage | None:
    """Neutral usage from ``usageMetadata`` (``None`` if absent); ``InvalidResponseError``
    for a count that is negative, fractional, NaN or absurd."""
    if not isinstance(meta, Mapping):
        return None
    n = {k: token_count(meta.get(k), field=f"usageMetadata.{k}", provider=provider, model=model)
         for k in _COUNTS}
    thoughts = n["thoughtsTokenCount"]
    return Usage(
        input_tokens=n["promptTokenCount"] + n["toolUsePromptTokenCount"],
        output_tokens=n["candidatesTokenCount"] + thoughts,
        cache_read_tokens=n["cachedContentTokenCount"],
        reasoning_tokens=thoughts,
    )


def call_id(response_id: str | None, position: int, name: str, args: Any) -> str:
    """A stable id for a ``functionCall`` that came without one."""
    seed = f"{response_id or ''}|{position}|{name}|{json.dumps(args, sort_keys=True)}"
    return SYNTHETIC_ID_PREFIX + hashlib.sha256(seed.encode()).hexdigest()[:16]


def policy_block(
    data: Mapping[str, Any], *, provider: str, model: str
) -> ContentPolicyError | None:
    """The ``ContentPolicyError`` for a blocked prompt or candidate, if any."""
    feedback = data.get("promptFeedback")
    if isinstance(feedback, Mapping) and isinstance(feedback.get("blockReason"), str):
        detail = feedback.get("blockReasonMessage")
        return policy_error(
            feedback["blockReason"], where="prompt", provider=provider, model=model,
            detail=detail if isinstance(detail, str) else _ratings(feedback),
        )
    candidates = data.get("candidates")
    first = candidates[0] if isinstance(candidates, list) and candidates else None
    if isinstance(first, Mapping) and first.get("finishReason") in POLICY_FINISH_REASONS:
        detail = first.get("finishMessage")
        return policy_error(
            str(first["finishReason"]), where="response", provider=provider, model=model,
            detail=detail if isinstance(detail, str) else _ratings(first),
        )
    return None


def _ratings(holder: Mapping[str, Any]) -> str:
    ratings = holder.get("safetyRatings")
    if not isinstance(ratings, list):
        return ""
    flagged = [f"{r.get('category')}={r.get('probability')}" for r in ratings
               if isinstance(r, Mapping) and (r.get("blocked") or r.get("probability")
                                               in ("MEDIUM", "HIGH"))]
    return ", ".join(flagged)


def parse_generate_content(data: Any, *, provider: str, model: str) -> ChatResponse:
    """A ``GenerateContentResponse`` body as a ``ChatResponse``."""

    def bad(why: str) -> InvalidResponseError:
        return InvalidResponseError(
            f"unexpected generateContent body: {why}", provider=provider, model=model
        )

    if not isinstance(data, Mapping):
        raise bad("not a JSON object")
    blocked = policy_block(data, provider=provider, model=model)
    if blocked is not None:
        raise blocked
    candidates = data.get("candidates")
    if not isinstance(candidates, list) or not candidates or not isinstance(
        candidates[0], Mapping
    ):
        raise bad("no candidates")
    candidate = candidates[0]
    content = candidate.get("content") or {}
    parts = content.get("parts") if isinstance(content, Mapping) else None
    if parts is None:
        parts = []
    if not isinstance(parts, list):
        raise bad("candidate content parts is not a list")
    rid = data.get("responseId") if isinstance(data.get("responseId"), str) else None

    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[ToolCallPart] = []
    other: list[Any] = []
    for part in parts:
        if not isinstance(part, Mapping):
            raise bad("a part is not an object")
        if isinstance(part.get("text"), str):
            (thoughts if part.get("thought") else texts).append(part["text"])
        elif isinstance(part.get("functionCall"), Mapping):
            fc = part["functionCall"]
            name, args = fc.get("name"), fc.get("args") or {}
            if not isinstance(name, str) or not isinstance(args, Mapping):
                raise bad("functionCall without a name or with non-object args")
            given = fc.get("id")
            cid = given if isinstance(given, str) and given else call_id(
                rid, len(calls), name, args)
            sig = part.get("thoughtSignature")
            calls.append(ToolCallPart(id=cid, name=name, arguments=dict(args),
                                      signature=SIGNATURE_PREFIX + sig
                                      if isinstance(sig, str) and sig else None))
        else:
            other.append(part)

    meta: dict[str, Any] = {}
    if thoughts:
        meta["thoughts"] = thoughts
    if other:
        meta["other_parts"] = other
    for key in ("safetyRatings", "citationMetadata", "groundingMetadata", "finishMessage"):
        if candidate.get(key):
            meta[key] = candidate[key]
    signatures = {c.id: c.signature.removeprefix(SIGNATURE_PREFIX)
                  for c in calls if c.signature}
    if signatures:
        meta["thought_signatures"] = signatures
    text = "".join(texts)
    body: list[Part] = []
    if text:
        body.append(TextPart(text=text))
    body.extend(calls)
    model_version = data.get("modelVersion")
    return ChatResponse(
        message=Message(role="assistant", content=text if not calls else body),
        finish_reason=finish_reason(candidate.get("finishReason"), has_calls=bool(calls)),
        usage=usage_from(data.get("usageMetadata"), provider=provider, model=model) or Usage(),
        provider=provider,
        model=model,
        response_model=model_version if isinstance(model_version, str) else None,
        response_id=rid,
        provider_metadata=meta,
    )
