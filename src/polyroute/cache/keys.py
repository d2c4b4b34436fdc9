"""Cache keys: sha256 of the canonical JSON of everything that affects the answer.

In the key: the namespace, the tenant, the candidates the call would be routed to
(tiers of ``provider/model``), the messages, the generation parameters (the
call's, merged over its agent's or route's), the tools, the tool choice,
parallel tool calls and the response format. Not in it: routing hints that do
not change the answer (tags other than the tenant, budgets, timeouts) and the
stream flag — a streamed and a plain call share entries.

Canonical JSON: sorted keys, no whitespace, ``None`` fields left out, so two
requests that mean the same thing hash the same; the key holds no raw payload.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from polyroute.types import ChatRequest, GenerationParams

__all__ = ["cache_key", "canonical_json"]

_ANSWER_FIELDS = {"messages", "tools", "tool_choice", "parallel_tool_calls", "response_format"}


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str)


def cache_key(
    request: ChatRequest,
    *,
    namespace: str,
    tenant: str | None,
    route: Any,
    base_params: GenerationParams | None = None,
) -> str:
    """The sha256 hex key of ``request`` in ``namespace``/``tenant`` for ``route``.

    ``base_params`` are the agent's or route's parameters, which the call's own
    override (as the router merges them).
    """
    params = request.params
    if base_params is not None and (base_params.model_fields_set or base_params.extra):
        params = params.merged_over(base_params)
    body = request.model_dump(mode="json", include=_ANSWER_FIELDS, exclude_none=True)
    p = params.model_dump(mode="json", exclude_none=True)
    if not p.get("extra"):
        p.pop("extra", None)
    body.update(v=1, ns=namespace, tenant=tenant, route=route, params=p)
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()
