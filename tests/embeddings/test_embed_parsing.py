"""Batch splitting and the OpenAI-shape parser: properties and hostile bodies."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polyroute.embed_types import EmbedLimits, EmbedRequest
from polyroute.errors import InvalidResponseError
from polyroute.providers.base import HttpResponse
from polyroute.providers.embeddings import decode_float32_base64, parse_openai_embeddings
from polyroute.routing.embed_plan import split_batches
from polyroute.testing.embed_vectors import fake_vector, float32_base64


@given(st.lists(st.integers(0, 5000), max_size=300),
       st.one_of(st.none(), st.integers(1, 50)), st.one_of(st.none(), st.integers(1, 20000)))
def test_split_keeps_order_and_limits(tokens: list[int], max_inputs: int | None,
                                      max_tokens: int | None) -> None:
    batches = split_batches(tokens, EmbedLimits(max_inputs, max_tokens))
    assert [i for b in batches for i in b] == list(range(len(tokens)))  # nothing dropped
    for b in batches:
        assert b
        if max_inputs is not None:
            assert len(b) <= max_inputs
        if max_tokens is not None and len(b) > 1:
            assert sum(tokens[i] for i in b) <= max_tokens


def body(data: object, **extra: object) -> HttpResponse:
    return HttpResponse(200, {}, json.dumps({"object": "list", "data": data, **extra}).encode())


REQ = EmbedRequest(texts=["a", "b"])


def test_rows_are_put_back_in_index_order() -> None:
    out = parse_openai_embeddings(body([{"index": 1, "embedding": [0.0, 1.0]},
                                        {"index": 0, "embedding": [1.0, 0.0]}],
                                       usage={"prompt_tokens": 2}),
                                  REQ, provider="p", model="m")
    assert out.vectors == [[1.0, 0.0], [0.0, 1.0]] and out.usage.input_tokens == 2


@pytest.mark.parametrize("data", [
    None, "x", [], [{"index": 0, "embedding": [1.0]}],
    [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [1.0]}],
    [{"index": 0, "embedding": [1.0]}, {"index": 5, "embedding": [1.0]}],
    [{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": [1.0, 2.0]}],
    [{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": ["1"]}],
    [{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": [True]}],
    [{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": "@@notbase64"}],
    [{"index": 0, "embedding": [1.0]}, {"index": True, "embedding": [1.0]}],
    [{"index": 0, "embedding": [1.0]}, {"index": 1}],
])
def test_hostile_bodies_are_typed_errors(data: object) -> None:
    with pytest.raises(InvalidResponseError):
        parse_openai_embeddings(body(data), REQ, provider="p", model="m")


def test_nan_and_negative_usage_are_refused() -> None:
    raw = b'{"data": [{"index": 0, "embedding": [NaN]}, {"index": 1, "embedding": [1]}]}'
    with pytest.raises(InvalidResponseError):
        parse_openai_embeddings(HttpResponse(200, {}, raw), REQ, provider="p", model="m")
    with pytest.raises(InvalidResponseError):
        parse_openai_embeddings(body([{"index": 0, "embedding": [1.0]},
                                      {"index": 1, "embedding": [1.0]}],
                                     usage={"prompt_tokens": -3}), REQ, provider="p", model="m")


@given(st.binary(max_size=64))
def test_base64_decoder_raises_only_typed_errors(raw: bytes) -> None:
    import base64

    try:
        values = decode_float32_base64(base64.b64encode(raw).decode(), provider="p", model="m")
    except InvalidResponseError:
        return
    assert len(values) * 4 == len(raw) and all(math.isfinite(v) for v in values)


def test_base64_round_trip() -> None:
    vec = fake_vector("m", "t", 7)
    assert decode_float32_base64(float32_base64(vec), provider="p", model="m") == vec
