"""Claude's thinking blocks, kept on the tool calls they led to.

With extended thinking on, a tool step must come back with the assistant's
``thinking`` / ``redacted_thinking`` blocks complete and unmodified, the turn
starting with one, or the API answers 400
(https://platform.claude.com/docs/build-with-claude/thinking-tool-workflows).
The neutral ``Message`` has no thinking part, so the blocks that came before a
``tool_use`` ride on that call's ``ToolCallPart.signature`` as
``anthropic-thinking:<JSON list of blocks>``, and the request puts them back
(the first call's at the start of the turn, as the API requires).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["PREFIX", "decode", "encode"]

PREFIX = "anthropic-thinking:"


def encode(blocks: list[dict[str, Any]]) -> str | None:
    """The signature carrying ``blocks`` (``None`` when there are none)."""
    return PREFIX + json.dumps(blocks, separators=(",", ":")) if blocks else None


def decode(signature: str | None) -> list[dict[str, Any]]:
    """The thinking blocks in ``signature``; none for another family's signature."""
    if not signature or not signature.startswith(PREFIX):
        return []
    try:
        blocks = json.loads(signature[len(PREFIX):])
    except (ValueError, RecursionError):
        return []
    if not isinstance(blocks, list):
        return []
    return [b for b in blocks if isinstance(b, dict)
            and b.get("type") in ("thinking", "redacted_thinking")]
