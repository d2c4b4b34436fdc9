"""``providers.bodies.loads`` (orjson when installed) accepts, returns and refuses exactly
what ``json.loads`` does."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyroute.providers.bodies import load_json, loads

CASES: list[bytes | str] = [
    b'{"a": 1, "b": [1.5, -0.0, 1e400, "x\\u00e9"], "c": null, "a": 2}',
    '{"a": NaN, "b": Infinity, "c": -Infinity}',
    b'{"big": 123456789012345678901234567890}',
    b"\xef\xbb\xbf{\"bom\": true}",  # json.loads takes a UTF-8 BOM in bytes
    "\ufeff{}",  # ... and refuses it in a str
    '"\\ud800"',  # a lone surrogate escape
    "[" * 2000 + "]" * 2000,  # deeper than orjson goes
    '{"x": 1} trailing',
    b"\xff\xfe{\x00}\x00",  # UTF-16
    b'{"bad": "\xff"}',
    "",
]


def _outcome(fn: Any, value: Any) -> Any:
    try:
        out = fn(value)
    except BaseException as exc:  # the type is what is compared
        return ("raised", type(exc))
    return ("ok", json.dumps(out, sort_keys=True, default=repr))


@pytest.mark.parametrize("content", CASES)
def test_loads_is_json_loads(content: bytes | str) -> None:
    assert _outcome(loads, content) == _outcome(json.loads, content)


@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=20))
def test_loads_round_trips_like_json(value: Any) -> None:
    text = json.dumps(value)
    got, want = loads(text), json.loads(text)
    assert json.dumps(got, sort_keys=True) == json.dumps(want, sort_keys=True)
    assert loads(text.encode()) == got or any(
        isinstance(v, float) and math.isnan(v) for v in _leaves(want))


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    return [value]


def test_load_json_still_names_what_failed() -> None:
    from polyroute.errors import InvalidResponseError

    with pytest.raises(InvalidResponseError, match="nested too deeply"):
        load_json("[" * 100_000 + "]" * 100_000, provider="p", model="m")
    with pytest.raises(InvalidResponseError, match="is not JSON"):
        load_json(b"{nope", provider="p", model="m")


@pytest.mark.parametrize("content", [
    '{"n": 12345678901234567890123}', '[1, -98765432109876543210]', "123456789012345678901",
    '{"id": "x12345678901234567890123", "n": 1}', '{"n":\n  -12345678901234567890123}',
    b'[0, 99999999999999999999]', '{"f": 1.12345678901234567890123}',
    # the edges of 64 bits, signed and not: past them orjson would round
    "-9223372036854775809", "[-9223372036854775808]", "18446744073709551616",
    '{"a":-18446744073709551617}', "[18446744073709551615, -1]",
])
def test_long_numbers_keep_their_digits(content: bytes | str) -> None:
    assert json.dumps(loads(content)) == json.dumps(json.loads(content))

