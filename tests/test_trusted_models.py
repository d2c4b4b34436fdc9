"""``trusted(cls, **values)`` makes what ``cls(**values)`` makes, for values of the
fields' own types: the parsers' hot path builds its chunks and answers with it."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, PrivateAttr, field_validator, model_validator

from polyroute.trusted_models import trusted, trusted_dict
from polyroute.types import (
    Attempt,
    ChatChunk,
    ChatResponse,
    Message,
    TextPart,
    ToolCallDelta,
    ToolCallPart,
    Usage,
)

counts = st.integers(min_value=0, max_value=10**9)
texts = st.text(max_size=20)
maybe_text = st.none() | texts
finish = st.none() | st.sampled_from(["stop", "length", "tool_calls", "content_filter",
                                      "error", "other"])
usages = st.builds(Usage, input_tokens=counts, output_tokens=counts,
                   cache_read_tokens=counts, reasoning_tokens=counts)
attempts = st.builds(Attempt, provider=texts, model=texts, ok=st.booleans(),
                     latency_ms=st.floats(min_value=0, max_value=1e6))
deltas = st.builds(ToolCallDelta, index=st.integers(0, 5), id=maybe_text, name=maybe_text,
                   arguments=texts)
parts = st.lists(st.builds(TextPart, text=texts)
                 | st.builds(ToolCallPart, id=texts, name=texts,
                             arguments=st.dictionaries(texts, st.integers(), max_size=2)),
                 max_size=3)


def _some(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """A random subset of ``fields``, each with a value: left-out fields take defaults."""
    return st.fixed_dictionaries({}, optional=fields)


CASES: dict[type[BaseModel], st.SearchStrategy[dict[str, Any]]] = {
    ChatChunk: _some({
        "text": texts, "tool_calls": st.lists(deltas, max_size=2), "finish_reason": finish,
        "usage": st.none() | usages, "response_id": maybe_text, "response_model": maybe_text,
        "provider": texts, "model": texts, "attempts": st.lists(attempts, max_size=2),
        "latency_ms": st.none() | st.floats(0, 1e6), "cost_usd": st.none() | st.floats(0, 10),
        "cache_hit": st.booleans(), "continued": st.booleans(), "call_id": maybe_text,
    }),
    Usage: _some({"input_tokens": counts, "output_tokens": counts,
                  "cache_read_tokens": counts, "cache_write_tokens": counts,
                  "reasoning_tokens": counts}),
    ToolCallDelta: st.fixed_dictionaries({"index": st.integers(0, 9)},
                                         optional={"id": maybe_text, "arguments": texts}),
    Message: st.fixed_dictionaries({"role": st.just("assistant")},
                                   optional={"content": texts | parts, "name": maybe_text}),
}


def _same(built: BaseModel, validated: BaseModel) -> None:
    assert built == validated
    assert type(built) is type(validated)
    assert built.model_fields_set == validated.model_fields_set
    assert built.model_dump_json() == validated.model_dump_json()
    assert built.model_dump(exclude_unset=True) == validated.model_dump(exclude_unset=True)
    assert repr(built) == repr(validated)
    assert list(built.__dict__) == list(validated.__dict__)


@pytest.mark.parametrize("cls", list(CASES), ids=lambda c: c.__name__)
def test_trusted_builds_what_validation_builds(cls: type[BaseModel]) -> None:
    @settings(max_examples=150, deadline=None, derandomize=True, database=None)
    @given(CASES[cls])
    def check(values: dict[str, Any]) -> None:
        _same(trusted(cls, **values), cls(**values))
        _same(trusted_dict(cls, dict(values)), cls(**values))

    check()


@given(st.builds(Message, role=st.just("assistant"), content=texts | parts), finish,
       usages, maybe_text, st.dictionaries(texts, st.integers(), max_size=2))
@settings(max_examples=100, deadline=None, derandomize=True, database=None)
def test_a_response_is_the_same_too(message: Message, reason: Any, usage: Usage,
                                    rid: str | None, meta: dict[str, Any]) -> None:
    values = {"message": message, "finish_reason": reason, "usage": usage,
              "response_id": rid, "provider_metadata": meta, "provider": "p", "model": "m"}
    built, validated = trusted(ChatResponse, **values), ChatResponse(**values)
    _same(built, validated)
    # and it behaves as a model afterwards: assignment, copies, validation round trip
    built.cost_usd = 0.5
    assert "cost_usd" in built.model_fields_set
    assert ChatResponse.model_validate_json(built.model_dump_json()) == built
    assert built.model_copy(update={"model": "n"}).model == "n"


def test_defaults_made_per_instance_are_not_shared() -> None:
    a, b = trusted(ChatChunk), trusted(ChatChunk)
    a.attempts.append(Attempt(provider="p", model="m", ok=True, latency_ms=1.0))
    assert b.attempts == [] and trusted(ChatResponse, message=Message.user("x")).attempts == []


def test_a_mutable_plain_default_is_copied_as_pydantic_copies_it() -> None:
    class Bag(BaseModel):
        items: list[int] = []  # pydantic copies it for each instance: so must trusted

    a, b = trusted(Bag), trusted(Bag)
    a.items.append(1)
    assert b.items == [] and Bag().items == []


def test_unknown_and_missing_fields_are_type_errors_that_name_them() -> None:
    with pytest.raises(TypeError, match="ChatChunk has no field colour"):
        trusted(ChatChunk, colour="red")
    with pytest.raises(TypeError, match=r"ChatResponse\.message is required"):
        trusted(ChatResponse, model="m")
    # one unknown and one missing do not cancel out
    with pytest.raises(TypeError, match="no field colour"):
        trusted(ChatResponse, colour="red")


def test_models_it_cannot_build_faithfully_are_refused() -> None:
    class Secretive(BaseModel):
        x: int = 0
        _hidden: int = PrivateAttr(default=1)

    with pytest.raises(TypeError, match="private"):
        trusted(Secretive, x=1)


def test_trusted_dict_keeps_no_reference_to_the_callers_dict() -> None:
    values: dict[str, Any] = {"text": "hi", "provider": "p"}
    chunk = trusted_dict(ChatChunk, values)
    values["text"] = "changed"
    values["model"] = "m"
    assert chunk.text == "hi" and chunk.model == "" and chunk.model_fields_set == {"text",
                                                                                  "provider"}


def test_models_with_validators_are_refused_not_silently_unchecked() -> None:
    class Shouty(BaseModel):
        word: str = ""

        @field_validator("word")
        @classmethod
        def upper(cls, v: str) -> str:
            return v.upper()

    class Checked(BaseModel):
        a: int = 0

        @model_validator(mode="after")
        def fine(self) -> Checked:
            return self

    class Posted(BaseModel):
        a: int = 0

        def model_post_init(self, context: Any, /) -> None:
            pass

    for cls in (Shouty, Checked, Posted):
        with pytest.raises(TypeError, match="would skip"):
            trusted(cls)
