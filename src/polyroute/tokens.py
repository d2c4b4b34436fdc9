"""Token estimates before a call: for context-window checks, budgets and rate limits.

An estimate, not a count: the provider's usage is the truth after the call.
``tiktoken`` is used when it is installed (exact for OpenAI models, close for
others); otherwise about four characters per token, plus a small overhead per
message and per tool — the approximation OpenAI documents for English text.

``prompt_tokens`` is the estimate every part of a call uses (planning, strategies,
budgets, rate limits, streaming): computed once per request and kept on it, and
recomputed only for a copy or an edit whose messages or tools differ.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from polyroute.types import (
    ChatRequest,
    ImagePart,
    ToolCallPart,
    ToolResultPart,
    request_memo,
)

__all__ = ["estimate_prompt_tokens", "estimate_text_tokens", "prompt_tokens"]

_PER_MESSAGE = 4
_PER_IMAGE = 765  # OpenAI's cost of one high-detail 512px tile set; a safe middle
_CHARS_PER_TOKEN = 4
_MEMO_KEY = "prompt_tokens"


@lru_cache(maxsize=1)
def _encoder() -> Any:
    try:
        import tiktoken
    except ImportError:
        return None
    try:
        return tiktoken.get_encoding("o200k_base")
    except Exception:  # the encoding file may need a download we cannot make
        return None


def estimate_text_tokens(text: str) -> int:
    if not text:
        return 0
    enc = _encoder()
    if enc is not None:
        return len(enc.encode(text, disallowed_special=()))
    return max(1, (len(text) + _CHARS_PER_TOKEN - 1) // _CHARS_PER_TOKEN)


def estimate_prompt_tokens(request: ChatRequest) -> int:
    """Tokens the prompt will take: messages, tool results, tool schemas, images."""
    total = 3
    for message in request.messages:
        total += _PER_MESSAGE
        if isinstance(message.content, str):
            total += estimate_text_tokens(message.content)
            continue
        for part in message.content:
            if isinstance(part, ImagePart):
                total += _PER_IMAGE
            elif isinstance(part, ToolCallPart):
                total += estimate_text_tokens(part.name + json.dumps(part.arguments))
            elif isinstance(part, ToolResultPart):
                total += estimate_text_tokens(part.content)
            else:
                total += estimate_text_tokens(part.text)
    for tool in request.tools:
        total += 8 + estimate_text_tokens(
            tool.name + tool.description + json.dumps(tool.parameters)
        )
    return total


def prompt_tokens(request: ChatRequest) -> int:
    """``estimate_prompt_tokens(request)``, computed once per request.

    Kept on the request with what it was computed from: the messages' contents and
    the tools, compared by value (identical objects compare at once). So the router's
    copies of a call's request reuse it, while a continuation that adds messages, or a
    request whose messages were edited between two calls, is estimated again.
    """
    # a list of parts is copied: one edited in place must not match itself
    contents = [m.content if m.content.__class__ is str else (*m.content,)
                for m in request.messages]
    tools = (*request.tools,)
    memo = request_memo(request)
    kept = memo.get(_MEMO_KEY)
    if kept is not None and kept[0] == contents and kept[1] == tools:
        return int(kept[2])
    n = estimate_prompt_tokens(request)
    memo[_MEMO_KEY] = (contents, tools, n)
    return n
