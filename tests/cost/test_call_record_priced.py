"""CostGuard.after_call takes the cost its attempt was priced at only when that is
the same answer: same deployment and the very same usage object."""

from __future__ import annotations

from polyroute.budgets.call_record import CallRecord
from polyroute.types import Attempt, ChatRequest, ChatResponse, Message, Usage


def _record(usage: Usage, cost: float | None) -> CallRecord:
    rec = CallRecord(ChatRequest(messages=[Message(role="user", content="hi")]))
    rec.attempts.append((Attempt(provider="p", model="m", ok=True, latency_ms=1.0), usage,
                         cost))
    return rec


def test_the_priced_cost_is_reused_for_the_same_answer() -> None:
    usage = Usage(input_tokens=10, output_tokens=5)
    resp = ChatResponse(message=Message(role="assistant", content="x"), usage=usage,
                        provider="p", model="m")
    assert _record(usage, 0.25).priced(resp) == 0.25


def test_anything_else_is_priced_again() -> None:
    usage = Usage(input_tokens=10, output_tokens=5)
    other = Usage(input_tokens=10, output_tokens=5)  # equal, but not the attempt's own
    resp = ChatResponse(message=Message(role="assistant", content="x"), usage=usage,
                        provider="p", model="m")
    assert _record(other, 0.25).priced(resp) is None
    assert _record(usage, None).priced(resp) is None  # unpriced or a refused cost
    moved = resp.model_copy(update={"model": "n"})
    assert _record(usage, 0.25).priced(moved) is None
    empty = CallRecord(ChatRequest(messages=[Message(role="user", content="hi")]))
    assert empty.priced(resp) is None
