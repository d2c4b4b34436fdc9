"""Chat Completions responses and errors → neutral types and classified errors.

Response shape: https://platform.openai.com/docs/api-reference/chat/object
Error codes:    https://platform.openai.com/docs/guides/error-codes
Rate limits:    https://platform.openai.com/docs/guides/rate-limits (``x-ratelimit-*`` headers)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from polyroute.errors import (
    ContentPolicyError,
    ContextWindowError,
    InvalidResponseError,
    OverloadedError,
    ProviderError,
    QuotaExceededError,
    RateLimitError,
    ServerError,
    StreamInterruptedError,
)
from polyroute.providers.base import HttpResponse
from polyroute.providers.bodies import finish_from, load_json
from polyroute.providers.classify import (
    error_class_for_status,
    parse_retry_after,
    request_id_from_headers,
)
from polyroute.providers.errors_table import error_json, with_body_snippet
from polyroute.providers.openai_compat import (
    chat_usage,
    first_choice,
    is_map,
    tool_arguments,
    tool_call_parts,
)
from polyroute.secrets import redact
from polyroute.trusted_models import trusted
from polyroute.types import ChatResponse, FinishReason, Message, Part, TextPart, Usage

__all__ = [
    "FINISH_REASONS",
    "classify_error",
    "map_finish_reason",
    "parse_arguments",
    "parse_chat_completion",
    "parse_duration",
    "parse_error_response",
    "parse_model_ids",
    "parse_usage",
    "rate_limit_retry_after",
]

FINISH_REASONS: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
    "eos": "stop",  # some compatible servers
}

_CONTEXT_CODES = {"context_length_exceeded", "string_above_max_length"}
_POLICY_CODES = {
    "content_policy_violation",
    "content_filter",
    "responsibleaipolicyviolation",
    "moderation_blocked",
}
_CONTEXT_HINTS = ("maximum context length", "context length", "context window", "too many tokens")


def map_finish_reason(value: Any) -> FinishReason | None:
    return finish_from(FINISH_REASONS, value)


def parse_usage(data: Any, *, provider: str = "", model: str = "") -> Usage | None:
    """``usage`` of a completion or of the final stream chunk; ``InvalidResponseError``
    for a count that is not a whole number from 0 to ``MAX_USAGE_TOKENS``."""
    return chat_usage(data, provider=provider, model=model)


parse_arguments = tool_arguments


def _load_json(response: HttpResponse, provider: str, model: str,
               rid: str | None = None) -> Any:
    return load_json(
        response.content, provider=provider, model=model, status=response.status,
        request_id=rid if rid is not None else _request_id(response.headers),
    )


def parse_chat_completion(response: HttpResponse, *, provider: str, model: str) -> ChatResponse:
    rid = _request_id(response.headers)
    data = _load_json(response, provider, model, rid)

    def bad(reason: str) -> InvalidResponseError:
        return InvalidResponseError(
            f"unexpected chat completion body: {reason}",
            provider=provider, model=model, status=response.status, request_id=rid,
        )

    if not is_map(data):
        raise bad("not a JSON object")
    if "error" in data and not data.get("choices"):
        status = response.status if response.status >= 400 else None
        raise classify_error(status, data, response.headers, provider, model)
    choice, msg = first_choice(data, bad)
    content = msg.get("content")
    if isinstance(content, list):  # content-part arrays from some compatible servers
        content = "".join(
            str(p.get("text", "")) for p in content if isinstance(p, Mapping)
        )
    if content is not None and not isinstance(content, str):
        raise bad("message content is neither text nor null")
    refusal = msg.get("refusal")
    text = content or (refusal if isinstance(refusal, str) else "")
    calls = tool_call_parts(msg.get("tool_calls"), provider=provider, model=model, bad=bad)
    meta: dict[str, Any] = {}
    for key in ("system_fingerprint", "service_tier", "created"):
        if data.get(key) is not None:
            meta[key] = data[key]
    if isinstance(refusal, str) and refusal:
        meta["refusal"] = refusal
    if rid:
        meta["request_id"] = rid
    answer: str | list[Part] = text
    if calls:
        answer = [TextPart(text=text), *calls] if text else list(calls)
    # every value is checked above (text is str, calls were validated as parts, the
    # finish reason comes from the table, usage from token_count): not validated again
    return trusted(
        ChatResponse,
        message=trusted(Message, role="assistant", content=answer),
        finish_reason=map_finish_reason(choice.get("finish_reason")),
        usage=parse_usage(data.get("usage"), provider=provider, model=model) or Usage(),
        provider=provider,
        model=model,
        response_model=data.get("model") if isinstance(data.get("model"), str) else None,
        response_id=data.get("id") if isinstance(data.get("id"), str) else None,
        provider_metadata=meta,
    )


def parse_model_ids(response: HttpResponse, *, provider: str) -> list[str]:
    data = _load_json(response, provider, "")
    items = data.get("data") if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        raise InvalidResponseError("model list has no 'data' array", provider=provider)
    return [str(m["id"]) for m in items if isinstance(m, Mapping) and "id" in m]


# --- errors ------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|h|m|s)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: str | None) -> float | None:
    """Seconds from a Go-style duration (``x-ratelimit-reset-*``): ``1s``, ``6m0s``, ``20ms``."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))  # bare seconds
    except ValueError:
        pass
    pos, total = 0, 0.0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            return None
        total += float(m.group(1)) * _UNIT[m.group(2)]
        pos = m.end()
    return total if pos == len(text) and pos > 0 else None


def rate_limit_retry_after(headers: Mapping[str, str]) -> float | None:
    """``retry-after-ms``/``retry-after`` first, else the exhausted ``x-ratelimit-reset-*``."""
    seconds = parse_retry_after(headers)
    if seconds is not None:
        return seconds
    resets: list[float] = []
    exhausted: list[float] = []
    for kind in ("requests", "tokens"):
        reset = parse_duration(headers.get(f"x-ratelimit-reset-{kind}"))
        if reset is None:
            continue
        resets.append(reset)
        if headers.get(f"x-ratelimit-remaining-{kind}", "").strip() == "0":
            exhausted.append(reset)
    # The reset headers say when the limit is *fully* restored; when one limit is
    # visibly exhausted its reset is the wait that matters, else the longest.
    if exhausted:
        return max(exhausted)
    return max(resets) if resets else None


def _request_id(headers: Mapping[str, str]) -> str | None:
    return request_id_from_headers(headers) or headers.get("apim-request-id")


def _error_fields(body: Any) -> tuple[str, str | None, str | None, str | None]:
    """(message, type, code, inner code) from OpenAI's or Azure's error body."""
    err = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(err, str):
        return err, None, None, None
    if not isinstance(err, Mapping):
        if isinstance(body, Mapping) and isinstance(body.get("message"), str):
            return body["message"], None, None, None  # Azure APIM style
        return "", None, None, None
    inner = err.get("innererror")
    inner_code = inner.get("code") if isinstance(inner, Mapping) else None
    code = err.get("code")
    return (
        str(err.get("message") or ""),
        str(err["type"]) if err.get("type") is not None else None,
        str(code) if code is not None else None,
        str(inner_code) if inner_code is not None else None,
    )


def classify_error(
    status: int | None,
    body: Any,
    headers: Mapping[str, str],
    provider: str,
    model: str,
    *,
    in_stream: bool = False,
) -> ProviderError:
    """One error, classified from status, OpenAI error body and headers."""
    message, etype, code, inner = _error_fields(body)
    keys = {k.lower() for k in (etype, code, inner) if k}
    lowered = message.lower()
    retry_after: float | None = None
    cls: type[ProviderError]
    if keys & _CONTEXT_CODES or (
        status in (400, 413, None) and any(h in lowered for h in _CONTEXT_HINTS)
    ):
        cls = ContextWindowError
    elif keys & _POLICY_CODES:
        cls = ContentPolicyError
    elif "insufficient_quota" in keys:
        # Out of credit / over the monthly budget: waiting cannot help, another
        # provider may (QuotaExceededError: not retried, may fall back).
        cls = QuotaExceededError
    elif status == 429 or "rate_limit_exceeded" in keys or (in_stream and etype == "requests"):
        cls = RateLimitError
        retry_after = rate_limit_retry_after(headers)
    elif status is not None:
        cls = error_class_for_status(status)
        if status >= 500 and ("overloaded" in lowered or "overloaded_error" in keys):
            cls = OverloadedError
    elif "overloaded_error" in keys or "overloaded" in lowered:
        cls = OverloadedError
    elif "server_error" in keys:
        cls = ServerError
    else:
        cls = StreamInterruptedError if in_stream else InvalidResponseError
    if not message:
        message = (
            f"HTTP {status}" if status is not None else "error event without a message"
        )
    what = "in-band stream error: " if in_stream else ""
    return cls(
        what + redact(message),
        provider=provider,
        model=model,
        status=status,
        retry_after=retry_after,
        request_id=_request_id(headers),
        error_type=code or etype or inner,
    )


def parse_error_response(response: HttpResponse, *, provider: str, model: str) -> ProviderError:
    body = error_json(response.content)
    err = classify_error(response.status, body, response.headers, provider, model)
    return err if body is not None else with_body_snippet(err, response.content)
