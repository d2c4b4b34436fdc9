"""``types.assign``: the router's one-step stamping of an answer's fields must leave the
model exactly as pydantic's attribute assignment would."""

from __future__ import annotations

from polyroute.types import Attempt, ChatResponse, Message, Usage, assign


def _answer() -> ChatResponse:
    return ChatResponse(message=Message(role="assistant", content="hi"),
                        usage=Usage(input_tokens=3, output_tokens=1))


def test_assign_leaves_the_model_as_setattr_would() -> None:
    attempts = [Attempt(provider="p", model="m", ok=True, latency_ms=1.5)]
    by_setattr, by_assign = _answer(), _answer()
    for name, value in {"provider": "p", "model": "m", "attempts": attempts,
                        "latency_ms": 2.0, "cost_usd": 0.25, "variant": "b"}.items():
        setattr(by_setattr, name, value)
    assign(by_assign, provider="p", model="m", attempts=attempts, latency_ms=2.0,
           cost_usd=0.25, variant="b")
    assert by_assign == by_setattr
    assert by_assign.model_fields_set == by_setattr.model_fields_set
    assert by_assign.model_dump(exclude_unset=True) == by_setattr.model_dump(exclude_unset=True)
    assert by_assign.model_dump_json() == by_setattr.model_dump_json()
