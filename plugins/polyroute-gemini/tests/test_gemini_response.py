"""generateContent bodies → ChatResponse: text, thoughts, function calls, usage, safety.

Body shapes from https://ai.google.dev/api/generate-content#generatecontentresponse
and https://ai.google.dev/gemini-api/docs/thinking (thought parts, thoughtsTokenCount).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from polyroute.errors import ContentPolicyError, InvalidResponseError
from polyroute.providers.base import HttpResponse
from polyroute_gemini import GeminiProvider
from polyroute_gemini.parse import call_id


def respond(provider: GeminiProvider, body: Any, status: int = 200) -> Any:
    return provider.parse_response(
        HttpResponse(status, {"content-type": "application/json"}, json.dumps(body).encode()),
        "gemini-2.5-flash")


def test_text_thoughts_and_usage(provider: GeminiProvider) -> None:
    out = respond(provider, {
        "candidates": [{"content": {"role": "model", "parts": [
            {"text": "Let me think about it.", "thought": True},
            {"text": "The answer "}, {"text": "is 4."}]},
            "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 120, "candidatesTokenCount": 5,
                          "totalTokenCount": 170, "cachedContentTokenCount": 100,
                          "thoughtsTokenCount": 45},
        "modelVersion": "gemini-2.5-flash", "responseId": "resp-1",
    })
    assert out.message.text == "The answer is 4."
    assert out.message.content == "The answer is 4."
    assert out.finish_reason == "stop"
    assert out.provider_metadata["thoughts"] == ["Let me think about it."]
    u = out.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.reasoning_tokens) == (
        120, 50, 100, 45)
    assert (out.response_model, out.response_id) == ("gemini-2.5-flash", "resp-1")


def test_function_calls_get_stable_ids(provider: GeminiProvider) -> None:
    body = {"candidates": [{"content": {"role": "model", "parts": [
        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
         "thoughtSignature": "c2lnbmF0dXJl"},
        {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}, "id": "fc-7"}}]},
        "finishReason": "STOP"}], "responseId": "r9"}
    out = respond(provider, body)
    assert out.finish_reason == "tool_calls"
    first, second = out.message.tool_calls
    assert first.id == call_id("r9", 0, "get_weather", {"city": "Paris"})
    assert first.id.startswith("gemini-call-") and len(first.id) == len("gemini-call-") + 16
    assert respond(provider, body).message.tool_calls[0].id == first.id  # deterministic
    assert (second.id, second.arguments) == ("fc-7", {"city": "Rome"})
    assert out.provider_metadata["thought_signatures"] == {first.id: "c2lnbmF0dXJl"}
    assert (first.signature, second.signature) == ("gemini:c2lnbmF0dXJl", None)


@pytest.mark.parametrize(("reason", "neutral"), [
    ("MAX_TOKENS", "length"), ("MALFORMED_FUNCTION_CALL", "error"), ("OTHER", "other"),
    ("LANGUAGE", "other"),
])
def test_finish_reasons(provider: GeminiProvider, reason: str, neutral: str) -> None:
    out = respond(provider, {"candidates": [{"content": {"parts": [{"text": "x"}]},
                                             "finishReason": reason}]})
    assert out.finish_reason == neutral


def test_blocked_prompt_is_content_policy(provider: GeminiProvider) -> None:
    with pytest.raises(ContentPolicyError) as info:
        respond(provider, {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                           "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}})
    assert info.value.error_type == "PROHIBITED_CONTENT"
    assert not info.value.fallbackable and not info.value.retryable


@pytest.mark.parametrize("reason", ["SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII",
                                    "RECITATION", "IMAGE_SAFETY"])
def test_blocked_candidate_is_content_policy(provider: GeminiProvider, reason: str) -> None:
    body = {"candidates": [{"finishReason": reason, "index": 0, "safetyRatings": [
        {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": True}]}]}
    with pytest.raises(ContentPolicyError, match=reason) as info:
        respond(provider, body)
    assert "HARM_CATEGORY_HARASSMENT=HIGH" in str(info.value)


def test_in_body_error_and_malformed(provider: GeminiProvider) -> None:
    with pytest.raises(InvalidResponseError, match="no candidates"):
        respond(provider, {"usageMetadata": {}})
    with pytest.raises(InvalidResponseError, match="not JSON"):
        provider.parse_response(HttpResponse(200, {}, b"<html>"), "m")
    with pytest.raises(InvalidResponseError, match="args"):
        respond(provider, {"candidates": [{"content": {"parts": [
            {"functionCall": {"name": "f", "args": [1]}}]}}]})


def test_empty_content_is_an_empty_answer(provider: GeminiProvider) -> None:
    out = respond(provider, {"candidates": [{"content": {"role": "model"},
                                             "finishReason": "MAX_TOKENS"}]})
    assert out.message.text == "" and out.finish_reason == "length"
    assert out.usage.total_tokens == 0
