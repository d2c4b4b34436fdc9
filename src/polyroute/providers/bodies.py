"""Reading provider bodies safely: every malformed body becomes an ``InvalidResponseError``.

A provider plugin parses bytes it does not control. These helpers are the parse
boundary plugins share, so hostile or broken bodies (deep nesting, bad UTF-8,
NaN or negative token counts, wrong types) end as one typed error naming the
provider and model, never as a ``RecursionError`` three layers up, and never as
a negative usage that would credit a budget.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

from polyroute.errors import InvalidResponseError, PolyrouteError, ProviderError
from polyroute.providers.classify import error_class_for_status
from polyroute.secrets import redact
from polyroute.trusted_models import trusted, trusted_dict
from polyroute.types import MAX_USAGE_TOKENS, FinishReason, Usage

__all__ = [
    "MALFORMED",
    "MAX_USAGE_TOKENS",
    "finish_from",
    "load_json",
    "loads",
    "parsing",
    "token_count",
    "typed_error",
    "typed_parse",
    "unreadable_error",
    "usage_of",
    "usage_with_cache",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")

MALFORMED: tuple[type[BaseException], ...] = (
    ValueError,  # json, int(), pydantic's ValidationError
    TypeError, KeyError, IndexError, AttributeError,
    RecursionError,  # JSON nested thousands deep
    OverflowError,  # int(inf), float of a 400-digit integer
    UnicodeError,
)
"""What malformed data raises inside a parser: bugs like ``NameError`` still surface."""


def _snippet(text: str, limit: int = 160) -> str:
    text = " ".join(text[: limit * 4].split())  # cut first: bodies can be megabytes
    return redact(text if len(text) <= limit else text[:limit] + "…")


def _show(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**30:
        sign = "negative " if value < 0 else ""
        return f"a {sign}number of ~{int(value.bit_length() * 0.30103) + 1} digits"
    if isinstance(value, (int, float, str)):
        return _snippet(repr(value), 40)
    return f"a JSON {type(value).__name__}"


def _pick_loads() -> Callable[[bytes | str], Any]:
    """orjson when installed (an answer parses ~3x faster: 2.2 vs 6.8 µs for the
    benchmark's completion, and a stream parses one JSON object per event), else the
    json module. Whatever orjson refuses goes to the json module, so what is accepted,
    what it becomes and what is refused (and with which error) stay the json module's:
    NaN/Infinity, integers past 64 bits, a BOM, UTF-16, lone surrogates, nesting past
    orjson's 1,024 levels."""
    try:
        import orjson
    except ImportError:  # pragma: no cover - the standard library only
        return json.loads

    fast, failed, slow = orjson.loads, orjson.JSONDecodeError, json.loads
    # orjson reads an integer past 64 bits as a float (precision lost, no error): a
    # body with a number of 19+ digits goes to the json module (an 18-digit integer
    # always fits). A number follows ':', '[', ',' or starts the document, after
    # blanks and a '-'. Found without a Python loop: blanks deleted, every digit made
    # '0' and ':', '[', ',', '-' made ':', then one substring search (~0.5 µs per
    # answer; a regex scan for \d{19} took ~10). Such text inside a string (a chat id
    # with a long digit run after a ':' or '-') only costs the slower parse.
    marks = bytes.maketrans(b"123456789[,-", b"000000000:::")
    blanks = b" \t\n\r"
    run = b":" + b"0" * 19

    def long_number(content: bytes | str) -> bool:
        if isinstance(content, str):
            data = content.encode("utf-8", "surrogatepass")
        elif isinstance(content, bytes | bytearray):
            data = bytes(content)
        else:
            return False  # not JSON text: both parsers refuse it
        return run in b":" + data.translate(marks, blanks)  # the start counts as a ':'

    def loads(content: bytes | str) -> Any:
        if long_number(content):
            return slow(content)
        try:
            return fast(content)
        except failed:
            return slow(content)

    return loads


loads = _pick_loads()
"""``json.loads``, faster when orjson is installed (same results, same errors)."""


def load_json(
    content: bytes | str, *, provider: str = "", model: str = "", what: str = "response body",
    status: int | None = None, request_id: str | None = None,
) -> Any:
    """``content`` as JSON; ``InvalidResponseError`` for anything that is not (bad UTF-8,
    nesting deeper than the interpreter can follow, a syntax error)."""
    try:
        return loads(content)
    except RecursionError:
        reason = "is nested too deeply to parse"
    except (ValueError, UnicodeError):
        head = content[:1000]
        text = head.decode("utf-8", "replace") if isinstance(head, bytes) else head
        reason = f"is not JSON: {_snippet(text)!r}"
    raise InvalidResponseError(
        f"{what} {reason}", provider=provider, model=model, status=status,
        request_id=request_id,
    )


def finish_from(table: Mapping[str, FinishReason], value: object) -> FinishReason | None:
    """The neutral finish reason for a provider's ``value`` from its ``table``: ``None``
    when absent, ``"other"`` for a value the table does not know."""
    return None if value is None else table.get(str(value), "other")


def token_count(value: Any, *, field: str, provider: str = "", model: str = "") -> int:
    """A usage count from a provider body: absent → 0; anything but a whole number in
    ``0..MAX_USAGE_TOKENS`` → ``InvalidResponseError`` naming the field.

    Counts are checked here, at the parse boundary, because a negative count would
    become a negative cost and a budget credit further down."""
    if type(value) is int and 0 <= value <= MAX_USAGE_TOKENS:  # the usual case, first
        return value
    if value is None:
        return 0
    count: int | None = None
    if isinstance(value, bool):
        count = None
    elif isinstance(value, int):
        count = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        count = int(value)
    elif isinstance(value, str) and value.strip().isdigit() and len(value) < 20:
        count = int(value)  # a few compatible servers send counts as strings
    if count is None or not 0 <= count <= MAX_USAGE_TOKENS:
        raise InvalidResponseError(
            f"usage field '{field}' is {_show(value)}, not a token count "
            f"(a whole number from 0 to {MAX_USAGE_TOKENS:,}); the attempt is refused so "
            "nonsense usage never reaches cost or budgets",
            provider=provider, model=model,
        )
    return count


def usage_of(*, provider: str = "", model: str = "", **fields: Any) -> Usage:
    """``Usage`` from raw provider values, each checked with ``token_count``.
    Keyword names are ``Usage`` fields; a value may be a ``(provider_field, raw)`` pair
    so the error names the provider's own field."""
    counts: dict[str, int] = {}
    for name, raw in fields.items():
        pair = isinstance(raw, tuple)
        value = raw[1] if pair else raw
        # token_count's own first case, inline: a call with keywords per count was
        # most of a parse's usage
        if type(value) is int and 0 <= value <= MAX_USAGE_TOKENS:
            counts[name] = value
        else:
            label = raw[0] if pair else name
            counts[name] = token_count(value, field=label, provider=provider, model=model)
    return trusted_dict(Usage, counts)  # each a checked int


def usage_with_cache(
    usage: object, keys: tuple[str, str, str, str], *, provider: str = "", model: str = "",
) -> Usage:
    """``Usage`` from a ``usage`` object whose input count leaves out the cache: ``keys``
    names its (input, output, cache read, cache write) fields. The neutral
    ``input_tokens`` is the whole prompt (the three added); the cache counts are kept
    apart too. Missing fields count 0; a bad count is an ``InvalidResponseError``."""
    if not isinstance(usage, dict):
        return Usage()
    inp, out, read, write = (
        token_count(usage.get(k), field=f"usage.{k}", provider=provider, model=model)
        for k in keys
    )
    return trusted(Usage, input_tokens=inp + read + write, output_tokens=out,
                   cache_read_tokens=read, cache_write_tokens=write)


@contextmanager
def parsing(provider: str, model: str, what: str = "response") -> Iterator[None]:
    """Turn what malformed data raises inside the block into ``InvalidResponseError``.

    The backstop around a plugin's parse methods: the specific checks above give the
    better message, this makes sure a shape nobody anticipated still ends typed."""
    try:
        yield
    except PolyrouteError:
        raise
    except MALFORMED as exc:
        raise _unexpected_shape(exc, provider, model, what) from None


def _unexpected_shape(exc: BaseException, provider: str, model: str, what: str
                      ) -> InvalidResponseError:
    return InvalidResponseError(
        f"{what} has an unexpected shape ({type(exc).__name__}: {_snippet(str(exc))})",
        provider=provider, model=model,
    )


def unreadable_error(
    status: int, *, provider: str = "", model: str = "", request_id: str | None = None,
    retry_after: float | None = None,
) -> ProviderError:
    """The error for a non-2xx response whose body could not be read: classified by
    status alone, so a garbled 429 is still a rate limit."""
    return error_class_for_status(status)(
        f"HTTP {status} (the error body could not be read)", provider=provider, model=model,
        status=status, request_id=request_id, retry_after=retry_after,
    )


def _where(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, str]:
    """(provider, model) of a ``Provider.parse_*(self, response, model)`` or a
    ``StreamParser`` method (``self.provider``/``self.model``)."""
    obj = args[0] if args else None
    provider = getattr(obj, "provider", None)
    if isinstance(provider, str):
        model = getattr(obj, "model", "")
        return provider, model if isinstance(model, str) else ""
    model = kwargs.get("model", args[2] if len(args) > 2 else "")
    name = getattr(obj, "name", "")
    return (name if isinstance(name, str) else ""), (model if isinstance(model, str) else "")


_WHAT = {"parse_response": "response", "parse_models": "model list", "feed": "stream event",
         "close": "end of stream"}


def typed_parse(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Decorate a ``Provider.parse_response``/``parse_models`` or a ``StreamParser``'s
    ``feed``/``close``: what malformed data raises inside becomes an
    ``InvalidResponseError`` naming provider and model (see ``parsing``)."""

    what = _WHAT.get(fn.__name__, fn.__name__)

    # ``parsing`` inlined: on the success path (every response, every stream event) a
    # context manager and the provider/model lookup are pure overhead
    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return fn(*args, **kwargs)
        except PolyrouteError:
            raise
        except MALFORMED as exc:
            provider, model = _where(args, kwargs)
            raise _unexpected_shape(exc, provider, model, what) from None

    return wrapper


def typed_error(
    fn: Callable[_P, ProviderError],
) -> Callable[_P, ProviderError]:
    """Decorate ``Provider.parse_error``: an error body that breaks the classifier still
    returns the status's class (``unreadable_error``), never raises."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> ProviderError:
        try:
            return fn(*args, **kwargs)
        except MALFORMED:
            provider, model = _where(args, kwargs)
            response = kwargs.get("response", args[1] if len(args) > 1 else None)
            status = getattr(response, "status", 500)
            return unreadable_error(
                status if isinstance(status, int) else 500, provider=provider, model=model,
            )

    return wrapper
