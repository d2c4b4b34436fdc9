"""The usage ledger's row for a call: what ``CostGuard`` writes when a call ends
(answered, failed, a cache hit, left early). Kept apart from the budgets' logic."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from polyroute.budgets.call_record import NO_USAGE, CallRecord, attempt_rows, error_name
from polyroute.call_ids import new_call_id
from polyroute.privacy.policy import redacted_content
from polyroute.types import ChatRequest, ChatResponse

if TYPE_CHECKING:
    from polyroute.config.schema import PolyrouteConfig
    from polyroute.ledger.postgres import PostgresLedger
    from polyroute.ledger.store import Ledger
    from polyroute.privacy.policy import PrivacyPolicy

__all__ = ["LedgerRows"]


class LedgerRows:
    """Builds and queues a call's ledger row (mixed into ``CostGuard``)."""

    config: PolyrouteConfig
    ledger: Ledger | PostgresLedger | None
    store_content: bool
    tenant_tag: str
    _privacy: PrivacyPolicy | None
    _agent_tags: dict[str, dict[str, str]]
    _routes: dict[tuple[str | None, ...], str | None]

    def _write(self, request: ChatRequest, rec: CallRecord | None, *,
               response: ChatResponse | None = None, error: Exception | None = None,
               cost: float | None = None, saved: float | None = None, hit: bool = False,
               status: str = "error", err_name: str | None = None) -> None:
        assert self.ledger is not None
        now = time.time()
        routing = request.routing
        # an answer keeps the id its row has, so feedback can name the call
        call_id = (response.call_id if response is not None else None) or new_call_id()
        if response is not None:
            response.call_id = call_id
        attempts = rec.attempts if rec is not None else []
        rows = attempt_rows(call_id, now, attempts)
        usage = response.usage if response is not None else NO_USAGE
        if response is not None:
            provider, model = response.provider, response.model
            latency: float | None = response.latency_ms
            status, err = ("cache_hit" if hit else "ok"), None
        else:
            last = attempts[-1][0] if attempts else None
            provider, model = (last.provider, last.model) if last else ("", "")
            latency = (now - rec.started) * 1000.0 if rec is not None else 0.0
            err = err_name or error_name(error)
        ttft = None
        if rec is not None and rec.stream and attempts and attempts[-1][0].ok:
            ttft = attempts[-1][0].latency_ms
        if cost is None and attempts:
            known = [c for _, _, c in attempts if c is not None]
            cost = sum(known) if len(known) == len(attempts) else None
        fallback = len({(a.provider, a.model) for a, _, _ in attempts}) > 1
        tags = dict(self._agent_tags.get(routing.agent or "", {}))
        tags.update(routing.tags)
        prompt = answer = None
        if self.store_content:
            prompt = json.dumps([m.model_dump(mode="json") for m in request.messages])
            answer = response.message.text if response is not None else None
        redactions = None
        if self._privacy is not None:  # counts, never values (docs/privacy.md)
            prompt, answer, redactions = redacted_content(self._privacy, request, provider,
                                                          prompt, answer)
        price_known = int(cost is not None)
        self.ledger.record((
            call_id, now, routing.agent, routing.task, self._route(request), provider, model,
            usage.input_tokens, usage.output_tokens, usage.cache_read_tokens,
            usage.cache_write_tokens, usage.reasoning_tokens, cost, saved, price_known,
            latency, ttft, status, err, len(attempts), int(fallback), int(hit),
            int(rec.stream if rec is not None else request.stream),
            json.dumps(tags) if tags else None, tags.get(self.tenant_tag), prompt, answer,
            routing.experiment, routing.variant,
            redactions,
        ), rows)

    def _route(self, request: ChatRequest) -> str | None:
        r = request.routing
        memo_key = (r.agent, r.task, r.model, r.route)
        if memo_key not in self._routes:
            route: str | None = None
            agent = self.config.agents.get(r.agent or "")
            if r.model:
                route = f"model:{r.model}"
            elif r.route:
                route = r.route
            elif agent is not None:
                route = agent.route or f"model:{agent.model}"
            elif r.task:
                route = r.task
            else:
                route = self.config.default
            self._routes[memo_key] = route
        return self._routes[memo_key]
