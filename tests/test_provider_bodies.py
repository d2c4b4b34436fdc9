"""The parse-boundary helpers plugins share (polyroute.providers.bodies, classify)."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyroute.errors import InvalidResponseError, RateLimitError, ServerError
from polyroute.providers.base import HttpResponse
from polyroute.providers.bodies import (
    MAX_USAGE_TOKENS,
    load_json,
    token_count,
    typed_error,
    typed_parse,
    usage_of,
)
from polyroute.providers.classify import parse_retry_after
from polyroute.types import Usage


@pytest.mark.parametrize("bad", [-1, -1_000_000, math.nan, math.inf, -math.inf, 2.5,
                                 MAX_USAGE_TOKENS + 1, 10**400, -(10**400), "lots", "-5",
                                 True, [], {}])
def test_a_nonsense_count_is_an_invalid_response_naming_the_field(bad: Any) -> None:
    with pytest.raises(InvalidResponseError) as info:
        token_count(bad, field="usage.output_tokens", provider="p", model="m")
    err = info.value
    assert (err.provider, err.model) == ("p", "m")
    assert "usage.output_tokens" in str(err) and len(str(err)) < 400


@pytest.mark.parametrize(("raw", "count"), [(None, 0), (0, 0), (12, 12), (12.0, 12), ("12", 12),
                                            (MAX_USAGE_TOKENS, MAX_USAGE_TOKENS)])
def test_a_sane_count_is_read(raw: Any, count: int) -> None:
    assert token_count(raw, field="f") == count


def test_usage_itself_refuses_negative_and_absurd_counts() -> None:
    with pytest.raises(ValueError):
        Usage(output_tokens=-1)
    with pytest.raises(ValueError):
        Usage(input_tokens=2**53 + 1)  # beyond exact floats; responses stop at 1e9 earlier
    assert usage_of(input_tokens=("prompt_tokens", 3), output_tokens=None).total_tokens == 3


@pytest.mark.parametrize("body", [b"[" * 100_000 + b"]" * 100_000, b'{"a": "\xff"}', b"{", b"",
                                  b"\xef\xbb\xbf\xff", b"1" * 5000])
def test_load_json_fails_typed(body: bytes) -> None:
    with pytest.raises(InvalidResponseError) as info:
        load_json(body, provider="p", model="m", status=200)
    assert info.value.provider == "p" and info.value.status == 200


class _Parser:
    provider = "p"
    model = "m"

    @typed_parse
    def feed(self, data: Any) -> Any:
        return data["x"][0] + 1


class _Provider:
    name = "prov"

    @typed_error
    def parse_error(self, response: HttpResponse, model: str) -> Any:
        raise KeyError("error")


def test_typed_parse_and_typed_error_turn_malformed_data_into_typed_errors() -> None:
    with pytest.raises(InvalidResponseError, match=r"p/m: stream event has an unexpected shape"):
        _Parser().feed({"x": "s"})
    err = _Provider().parse_error(HttpResponse(429, {}, b"?"), "mod")
    assert isinstance(err, RateLimitError) and (err.provider, err.model) == ("prov", "mod")
    assert isinstance(_Provider().parse_error(HttpResponse(502, {}, b""), "m"), ServerError)


@pytest.mark.parametrize("value", ["inf", "-inf", "nan", "1e400", "Infinity"])
def test_a_non_finite_retry_after_is_ignored(value: str) -> None:
    assert parse_retry_after({"retry-after": value}) is None
    assert parse_retry_after({"retry-after-ms": value}) is None


@given(st.dictionaries(st.sampled_from(["retry-after", "retry-after-ms"]), st.text(max_size=40)))
def test_retry_after_never_raises_and_is_finite(headers: dict[str, str]) -> None:
    value = parse_retry_after(headers)
    assert value is None or (math.isfinite(value) and value >= 0)
