"""``transport.json_body`` is ``json.dumps(..., separators=(",", ":"), ensure_ascii=False)
.encode()``, byte for byte and error for error: every request body goes through it."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from polyroute.transport import json_body


def _reference(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _outcome(fn: Any, value: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(value)
    except Exception as exc:  # the same type and message, or it is not the same encoder
        return type(exc).__name__, str(exc)


# every character, lone surrogates included (they fail in .encode(), as json.dumps's do)
_text = st.text(st.characters(blacklist_categories=()), max_size=12)
_scalars = (st.none() | st.booleans() | _text
            | st.floats(allow_nan=True, allow_infinity=True)  # NaN, inf, 1e-07, 1e+16
            | st.integers() | st.integers(min_value=2**63 - 2, max_value=2**70))
_keys = _text | st.integers() | st.floats() | st.booleans() | st.none()
_values = st.recursive(
    _scalars,
    lambda kids: (st.lists(kids, max_size=4) | st.tuples(kids, kids)
                  | st.dictionaries(_keys, kids, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_values)
def test_the_same_bytes_or_the_same_error_as_json_dumps(value: Any) -> None:
    assert _outcome(json_body, value) == _outcome(_reference, value)


def test_the_edges_json_dumps_has() -> None:
    nan = float("nan")
    for value in ({"t": nan, "u": math.inf, "v": -math.inf}, {"x": 1e16, "y": 1e-7, "z": -0.0},
                  {3: "int key", 2.5: "float key", True: "bool", None: "none"},
                  {"big": 2**80}, {"s": "é \u2028 \x00 \x1f \x7f \"q\" \\"}, "top-level text",
                  [1, (2, 3)], {"surrogate": "\ud800"}):
        assert _outcome(json_body, value) == _outcome(_reference, value), value


def test_a_cycle_and_an_unknown_type_fail_as_json_dumps_does_and_leave_nothing_behind() -> None:
    cyclic: dict[str, Any] = {"a": 1}
    cyclic["self"] = cyclic
    kind, message = _outcome(json_body, cyclic)
    assert (kind, message) == ("ValueError", "Circular reference detected")
    kind, message = _outcome(json_body, {"when": object()})
    assert kind == "TypeError" and "not JSON serializable" in message
    # a failure mid-way must not poison the next call (a shared marker dict would)
    shared = {"k": [1, 2]}
    assert json_body({"a": shared, "b": shared}) == b'{"a":{"k":[1,2]},"b":{"k":[1,2]}}'
