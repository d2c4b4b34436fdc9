"""Mistral SSE byte streams → ChatChunks (usage on the last chunk, then [DONE]).

Shape: https://docs.mistral.ai/api/#tag/chat (stream: data-only server-sent
events terminated by ``data: [DONE]``).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from polyroute.errors import ServerError, StreamInterruptedError
from polyroute.providers.base import ProviderSettings
from polyroute.testing.streams import parse_stream
from polyroute.types import ChatChunk
from polyroute_mistral import MistralProvider

P = MistralProvider(ProviderSettings(name="mistral", type="mistral", api_key="k"))
BASE = {"id": "e8d6b7d9a8b54c8c9f2b2c4f4c3d2e1f", "object": "chat.completion.chunk",
        "created": 1745000000, "model": "mistral-small-latest"}


def run(raw: bytes) -> list[ChatChunk]:
    return parse_stream(P.stream_parser("mistral-small-latest"), raw)


def events(*deltas: tuple[dict[str, Any], str | None, dict[str, Any] | None],
           done: bool = True) -> bytes:
    out = b""
    for delta, finish, usage in deltas:
        data: dict[str, Any] = {**BASE, "choices": [{"index": 0, "delta": delta,
                                                     "finish_reason": finish}]}
        if usage:
            data["usage"] = usage
        out += b"data: " + json.dumps(data).encode() + b"\n\n"
    return out + (b"data: [DONE]\n\n" if done else b"")


def test_text_and_final_usage() -> None:
    chunks = run(events(({"role": "assistant", "content": ""}, None, None),
                        ({"content": "Le meilleur "}, None, None),
                        ({"content": "fromage"}, None, None),
                        ({"content": ""}, "stop", {"prompt_tokens": 10, "completion_tokens": 4,
                                                   "total_tokens": 14})))
    assert "".join(c.text for c in chunks) == "Le meilleur fromage"
    assert chunks[-1].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens == 14
    assert chunks[0].response_model == "mistral-small-latest"


def test_whole_tool_call_in_one_delta() -> None:
    call = {"id": "ZsbIVgYpE", "function": {"name": "retrieve_payment_status",
                                            "arguments": "{\"transaction_id\": \"T1001\"}"},
            "index": 0}
    chunks = run(events(({"role": "assistant", "content": ""}, None, None),
                        ({"tool_calls": [call]}, "tool_calls",
                         {"prompt_tokens": 90, "completion_tokens": 20, "total_tokens": 110})))
    [delta] = [d for c in chunks for d in c.tool_calls]
    assert (delta.index, delta.id, delta.name) == (0, "ZsbIVgYpE", "retrieve_payment_status")
    assert json.loads(delta.arguments) == {"transaction_id": "T1001"}
    assert chunks[-1].finish_reason == "tool_calls"


def test_missing_done_and_in_band_error() -> None:
    with pytest.raises(StreamInterruptedError, match="DONE"):
        run(events(({"content": "Hi"}, None, None), done=False))
    raw = events(({"content": "Hi"}, None, None), done=False) + (
        b'data: {"object": "error", "message": "Internal server error", '
        b'"type": "internal_server_error", "param": null, "code": null}\n\n')
    with pytest.raises(ServerError, match="Internal server error"):
        run(raw)
    with pytest.raises(Exception, match="not JSON"):
        run(b"data: {nope\n\n")
