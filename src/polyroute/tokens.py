"""Token estimates before a call: for context-window checks, budgets and rate limits.

An estimate, not a count: the provider's usage is the truth after the call.
``tiktoken`` is used when it is installed (exact for OpenAI models, close for
others); otherwise about four characters per token, plus a small overhead per
message and per tool — the approximation OpenAI documents for English text.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from polyroute.types import ChatRequest, ImagePart, ToolCallPart, ToolResultPart

__all__ = ["estimate_prompt_tokens", "estimate_text_tokens"]

_PER_MESSAGE = 4
_PER_IMAGE = 765  # OpenAI's cost of one high-detail 512px tile set; a safe middle
_CHARS_PER_TOKEN = 4


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
