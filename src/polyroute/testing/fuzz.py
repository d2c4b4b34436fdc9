"""Property-based checks for provider parsers (needs ``hypothesis``, in the dev extra).

A plugin's parsers read bytes nobody vouches for. ``check_provider`` feeds one
body to every parse entry point of a ``Provider`` (response, error, model list,
stream events) and lets only polyroute's typed errors through; the strategies
generate what breaks parsers: random bytes, and real sample bodies with parts
replaced by hostile values (NaN, ±inf, negative and 400-digit numbers, wrong
types, JSON nested 100,000 deep, bad UTF-8, truncation).

```python
from hypothesis import given
from polyroute.testing import fuzz

SAMPLES = fuzz.cassette_samples(Path("cassettes/myprovider_wire"))

@given(case=fuzz.cases(SAMPLES))
def test_parsers_raise_only_typed_errors(case):
    fuzz.check_provider(MyProvider(settings), "my-model", case)
```
"""

from __future__ import annotations

import copy
import functools
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from hypothesis import settings
from hypothesis import strategies as st

from polyroute.errors import InvalidResponseError, PolyrouteError, ProviderError
from polyroute.framing import decoder_for
from polyroute.providers.base import HttpResponse, Provider, StreamEvent

__all__ = [
    "NONSENSE_COUNTS", "Case", "Samples", "assert_nonsense_usage_refused", "cases",
    "cassette_samples", "check_provider", "corrupt", "deep_json", "hostile_values",
    "json_values", "mutated", "nonsense_usage_cases", "per_family", "typed_only", "with_key",
]

_DEEP = "\x00polyroute-deep\x00"
HOSTILE: list[Any] = [
    math.nan, math.inf, -math.inf, -1, -1_000_000, 10**30, 10**400, 1e308, -0.0, 0.5,
    True, False, None, "", "-5", "NaN", "\ud800", [], {}, [[[]]], {"": None}, _DEEP,
]


@dataclass
class Samples:
    """Real bodies of one provider: decoded JSON values per kind, and the keys seen."""

    responses: list[Any] = field(default_factory=list)
    errors: list[Any] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    event_names: set[str] = field(default_factory=set)
    streams: list[list[StreamEvent]] = field(default_factory=list)
    """Each recorded stream's events, in order."""

    def add(self, *responses: Any) -> Samples:
        """More 2xx sample bodies (a model-list body, which cassettes rarely hold)."""
        for value in responses:
            self.responses.append(value)
            _walk_keys(value, self.keys)
        return self


@dataclass
class Case:
    """One generated input: a body (for response, error and model-list parsers),
    an HTTP status, and a sequence of stream events."""

    body: bytes
    status: int
    events: list[StreamEvent]


def typed_only(call: Callable[[], object]) -> PolyrouteError | None:
    """Run ``call``: a ``PolyrouteError`` is returned, anything else propagates."""
    try:
        call()
    except PolyrouteError as exc:
        return exc
    return None


def per_family(examples: int = 2_500) -> settings:
    """Settings for one parser family's suite: ``examples`` x ``VARIANTS`` cases
    (2,500 x 4 = 10,000). ``POLYROUTE_FUZZ_EXAMPLES`` overrides the example count (lower
    it while iterating, raise it for a soak run)."""
    return settings(max_examples=int(os.environ.get("POLYROUTE_FUZZ_EXAMPLES", examples)),
                    deadline=None)


VARIANTS = 4
"""Cases checked per generated example: the body, cut in half, with a stray UTF-8
continuation byte, and with trailing garbage. Derived without further draws, because
hypothesis's own cost per example (~1 ms) dominates a parser's (~50 µs)."""


def variants(body: bytes) -> list[bytes]:
    third = len(body) // 3
    return [body, body[: len(body) // 2], body[:third] + b"\x80" + body[third:], body + b"}x"]


def check_provider(
    provider: Provider, model: str, case: Case,
    stream_events: Callable[[Case], Iterable[StreamEvent]] | None = None,
) -> int:
    """Every parse entry point of ``provider`` on ``case`` and its ``variants``: only
    typed errors escape; ``parse_error`` returns (not raises) a ``ProviderError``.
    Returns the number of cases checked."""
    bodies = variants(case.body)
    for body in bodies:
        events = [*case.events[:-1], StreamEvent(_event_text(body), case.events[-1].event)]
        _check_one(provider, model, Case(body, case.status, events), stream_events)
    return len(bodies)


def _check_one(
    provider: Provider, model: str, case: Case,
    stream_events: Callable[[Case], Iterable[StreamEvent]] | None,
) -> None:
    response = HttpResponse(200, {"content-type": "application/json"}, case.body)
    typed_only(lambda: provider.parse_response(response, model))
    typed_only(lambda: provider.parse_models(response))
    error = HttpResponse(case.status, {"retry-after": "1"}, case.body)
    returned: list[object] = []
    typed_only(lambda: returned.append(provider.parse_error(error, model)))
    assert not returned or isinstance(returned[0], ProviderError), returned
    events = list(stream_events(case) if stream_events else case.events)

    def stream() -> None:
        parser = provider.stream_parser(model)
        for event in events:
            list(parser.feed(event))
        list(parser.close())

    typed_only(stream)


# --- samples -------------------------------------------------------------------


def _walk_keys(value: Any, keys: set[str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            keys.add(str(k))
            _walk_keys(v, keys)
    elif isinstance(value, list):
        for v in value:
            _walk_keys(v, keys)


def _json_or_none(data: bytes | str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def cassette_samples(
    folder: Path, *, framing: str = "sse",
    decode_stream: Callable[[bytes], Iterable[StreamEvent]] | None = None,
) -> Samples:
    """Sample bodies from a folder of vcrpy cassettes: 2xx JSON bodies, error bodies,
    and stream events (cut with ``framing``, or ``decode_stream`` for binary framings)."""
    out = Samples()
    for path in sorted(folder.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        for item in doc.get("interactions", []):
            resp = item["response"]
            raw = resp["body"]["string"]
            data = raw if isinstance(raw, bytes) else str(raw).encode()
            status = int(resp["status"]["code"])
            value = _json_or_none(data)
            if status >= 400:
                if value is not None:
                    out.errors.append(value)
                continue
            if value is not None:
                out.responses.append(value)
                continue
            if decode_stream is not None:
                events = list(decode_stream(data))
            else:
                decoder = decoder_for(framing)
                events = [*decoder.feed(data), *decoder.close()]
            out.streams.append(events)
            for event in events:
                if event.event:
                    out.event_names.add(event.event)
                parsed = _json_or_none(event.data)
                if parsed is not None:
                    out.events.append(parsed)
    for value in (*out.responses, *out.errors, *out.events):
        _walk_keys(value, out.keys)
    return out


NONSENSE_COUNTS: list[Any] = [-1_000_000, -1, math.nan, math.inf, 1e30, 10**400, 2.5, "lots"]
"""Usage counts a provider may report that must never reach cost or budgets."""


def with_key(value: Any, key: str, new: Any) -> tuple[Any, int]:
    """A copy of ``value`` with every ``key`` (at any depth) set to ``new``, and how many."""
    if isinstance(value, dict):
        out, n = {}, 0
        for k, v in value.items():
            if k == key and not isinstance(v, (dict, list)):
                out[k], n = new, n + 1
            else:
                out[k], m = with_key(v, key, new)
                n += m
        return out, n
    if isinstance(value, list):
        items = [with_key(v, key, new) for v in value]
        return [v for v, _ in items], sum(m for _, m in items)
    return value, 0


def _parses(provider: Provider, model: str, events: list[StreamEvent]) -> bool:
    parser = provider.stream_parser(model)
    try:
        for event in events:
            list(parser.feed(event))
        list(parser.close())
    except PolyrouteError:
        return False
    return True


def nonsense_usage_cases(
    samples: Samples, key: str, provider: Provider, model: str,
) -> list[tuple[str, Any, bytes | None, list[StreamEvent] | None]]:
    """(label, bad count, response body, stream events) with usage field ``key`` set to
    each of ``NONSENSE_COUNTS`` in every sample response and every recorded stream that
    has it and parses as recorded (a stream ending in a safety block never gets to usage)."""
    out: list[tuple[str, Any, bytes | None, list[StreamEvent] | None]] = []
    streams = [s for s in samples.streams if _parses(provider, model, s)]
    for bad in NONSENSE_COUNTS:
        for i, sample in enumerate(samples.responses):
            changed, n = with_key(sample, key, bad)
            if n:
                out.append((f"response{i}", bad, _to_bytes(encode(changed)), None))
        for i, stream in enumerate(streams):
            events, hits = [], 0
            for event in stream:
                value = _json_or_none(event.data)
                changed, n = with_key(value, key, bad) if value is not None else (None, 0)
                hits += n
                events.append(StreamEvent(encode(changed), event.event, event.id) if n else event)
            if hits:
                out.append((f"stream{i}", bad, None, events))
    return out


def assert_nonsense_usage_refused(
    provider: Provider, model: str, body: bytes | None, events: list[StreamEvent] | None,
) -> InvalidResponseError:
    """The parser refuses the body or stream with an ``InvalidResponseError`` naming
    ``provider`` and ``model``; returns it."""
    try:
        if body is not None:
            provider.parse_response(HttpResponse(200, {}, body), model)
        else:
            parser = provider.stream_parser(model)
            for event in events or []:
                list(parser.feed(event))
            list(parser.close())
    except InvalidResponseError as exc:
        assert exc.provider == provider.name and exc.model == model, repr(exc)
        return exc
    raise AssertionError("nonsense usage was accepted")


# --- strategies ------------------------------------------------------------------


def hostile_values() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(HOSTILE).map(copy.deepcopy),  # some are mutable: never share them
        st.integers(),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=12),
    )


@functools.lru_cache(maxsize=64)
def json_values(keys: tuple[str, ...] = ()) -> st.SearchStrategy[Any]:
    """Nested JSON-ish values built from hostile leaves, with realistic keys.
    Cached: building a ``recursive`` strategy per draw costs more than the draw."""
    key = (st.sampled_from(sorted(keys)) | st.text(max_size=6)) if keys else st.text(max_size=6)
    return st.recursive(
        hostile_values(),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(key, inner, max_size=3),
        max_leaves=5,
    )


def _slots(value: Any, here: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every replaceable position in ``value``."""
    out: list[tuple[Any, ...]] = [here]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_slots(v, (*here, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_slots(v, (*here, i)))
    return out


def mutated(samples: Sequence[Any], keys: tuple[str, ...] = ()) -> st.SearchStrategy[Any]:
    """A sample with one or two positions replaced or deleted."""
    pool = list(samples)
    # Mostly one hostile scalar (cheap to draw: 10,000 examples must stay affordable),
    # sometimes a whole nested value.
    values = st.one_of(
        st.sampled_from(HOSTILE).map(copy.deepcopy), st.sampled_from(HOSTILE).map(copy.deepcopy),
        st.sampled_from(HOSTILE).map(copy.deepcopy), json_values(keys),
    )

    @st.composite
    def build(draw: st.DrawFn) -> Any:
        value = copy.deepcopy(pool[draw(st.integers(0, len(pool) - 1))])
        for _ in range(draw(st.integers(1, 2))):
            slots = _slots(value)
            path = slots[draw(st.integers(0, len(slots) - 1))]
            if not path:
                return draw(values)
            parent = value
            for step in path[:-1]:
                parent = parent[step]
            if draw(st.integers(0, 2)) == 0:
                del parent[path[-1]]
            else:
                parent[path[-1]] = draw(values)
        return value

    return build()


def deep_json(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + close * depth


def encode(value: Any) -> str:
    """JSON text of ``value``; NaN/Infinity as Python writes them; ``_DEEP`` becomes
    JSON nested 50,000 deep (json.dumps itself could not write that)."""
    text = json.dumps(value, allow_nan=True, ensure_ascii=False)
    return text.replace(json.dumps(_DEEP), deep_json(50_000))


_SPLICES = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\x80"]


@st.composite
def corrupt(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` unchanged, truncated, or with invalid UTF-8 / random bytes spliced in."""
    op = draw(st.integers(0, 4))
    if op <= 1 or not data:
        return data
    at = draw(st.integers(0, len(data)))
    if op == 2:
        return data[:at]
    if op == 3:
        return data[:at] + _SPLICES[draw(st.integers(0, len(_SPLICES) - 1))] + data[at:]
    return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]


def _to_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _deep(n: int) -> bytes:
    return (deep_json(n, '{"a":', "}") if n % 2 else deep_json(n)).encode()


def bodies(samples: Sequence[Any], keys: tuple[str, ...] = ()) -> st.SearchStrategy[bytes]:
    """Bodies: random bytes, deep nesting, and mutated samples (maybe corrupted)."""
    structured = (mutated(samples, keys) if samples else json_values(keys)).map(encode)
    raw = structured.map(_to_bytes)
    return st.one_of(
        st.binary(max_size=64),
        st.integers(10, 100_000).map(_deep),
        raw.flatmap(corrupt),
        raw,
        raw,
    )


def _event_text(data: bytes) -> str:
    # Framing hands parsers str decoded with replacement (the SSE rule), never bytes.
    return data.decode("utf-8", "replace")


_STATUSES = [400, 401, 403, 404, 408, 413, 422, 429, 499, 500, 503, 529]


def cases(samples: Samples) -> st.SearchStrategy[Case]:
    """Generated inputs for ``check_provider`` from one provider's samples: one hostile
    body, used as the response, the error and the model list, and as the last stream
    event after a valid prefix (so the stream parser meets it in a realistic state).
    One body per example keeps 10,000 examples affordable."""
    keys = tuple(sorted(samples.keys))
    pool = samples.responses + samples.errors + samples.events
    names = sorted(samples.event_names)
    body_s = bodies(pool, keys)
    status_s = st.sampled_from(_STATUSES) | st.integers(400, 599)
    valid = [encode(v) for v in (samples.events or pool)]

    @st.composite
    def build(draw: st.DrawFn) -> Case:
        body = draw(body_s)
        prefix = draw(st.integers(0, min(4, len(valid))))
        start = draw(st.integers(0, len(valid) - prefix)) if valid else 0
        events = [StreamEvent(data=text, event=_event_name(text, names))
                  for text in valid[start:start + prefix]]
        name = names[draw(st.integers(0, len(names) - 1))] if names else None
        events.append(StreamEvent(data=_event_text(body), event=name))
        return Case(body=body, status=draw(status_s), events=events)

    return build()


def _event_name(text: str, names: list[str]) -> str | None:
    # Named-event framings (Anthropic, Cohere, Bedrock) repeat the type in the data.
    for name in names:
        if f'"{name}"' in text:
            return name
    return names[0] if names else None
