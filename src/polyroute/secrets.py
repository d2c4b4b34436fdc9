"""Secrets: held masked, resolved lazily, and scrubbed from anything we print.

A ``Secret`` is a literal value, an ``env:NAME`` reference, or a reference to a
secret backend (``file:``, ``aws-sm:``, ``vault:``, ``registry:`` or a plugin's:
``polyroute.secret_refs``), read only when a request is built, so a config naming
``OPENAI_API_KEY`` loads fine on a machine without it. Every value ever revealed
is remembered so the log filter and error messages can scrub it wherever it
shows up.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from polyroute.errors import MissingSecretError
from polyroute.secret_refs import backend_for, read_reference, refresh_reference

__all__ = [
    "RedactingFilter", "Secret", "mask_headers", "mask_url", "masked_repr_args", "redact",
]

_MASK = "**********"
_revealed: set[str] = set()
_longest_first: tuple[str, ...] = ()
_lock = threading.Lock()

# Shapes of well-known keys, scrubbed even if we never revealed them ourselves.
_KEY_PATTERNS = re.compile(
    r"(sk-ant-[A-Za-z0-9_\-]{8,}|sk-[A-Za-z0-9_\-]{16,}|AIza[0-9A-Za-z_\-]{30,}"
    r"|AKIA[0-9A-Z]{16}|gsk_[A-Za-z0-9]{20,}|(?<=Bearer )[A-Za-z0-9._\-]{16,})"
)


class Secret:
    """A secret value or an ``env:NAME`` reference. ``repr`` and ``str`` never show it."""

    __slots__ = ("_env", "_value")

    def __init__(self, value: str | None = None, *, env: str | None = None) -> None:
        if value is not None and value.startswith("env:"):
            env, value = value[4:].strip(), None
        self._value = value
        self._env = env

    @classmethod
    def from_env(cls, *names: str) -> Secret | None:
        """The first of ``names`` that is set, as a reference; ``None`` if none is."""
        for name in names:
            if os.environ.get(name):
                return cls(env=name)
        return None

    @property
    def env_name(self) -> str | None:
        return self._env

    def is_available(self) -> bool:
        """Set (a literal, an env var that is set, or a backend reference: those are
        only known to resolve when read)."""
        return self._value is not None or bool(self._env and os.environ.get(self._env))

    @property
    def reference(self) -> str | None:
        """``scheme:reference`` when this reads a secret backend, else ``None``."""
        value = self._value
        return value if value is not None and backend_for(value) is not None else None

    def refresh(self, *, what: str = "secret") -> bool:
        """Re-read a backend reference now (a provider refused the key it had);
        ``True`` when the value changed. Literals and env vars: ``False``."""
        found = backend_for(self._value) if self._value is not None else None
        if found is None:
            return False
        changed = refresh_reference(found[0], found[1], what=what)
        return changed

    def reveal(self, *, what: str = "secret") -> str:
        """The plain value. Raises ``MissingSecretError`` if an env reference is unset
        or a backend cannot read its reference."""
        value = self._value
        if value is not None and ":" in value:
            found = backend_for(value)
            if found is not None:
                value = read_reference(found[0], found[1], what=what)
        if value is None:
            assert self._env is not None
            value = os.environ.get(self._env)
            if not value:
                raise MissingSecretError(
                    f"{what} reads environment variable {self._env}, which is not set",
                    fix=f"export {self._env}=... or put the value in the config",
                )
        if value not in _revealed:
            remember(value)
        return value

    def __repr__(self) -> str:
        return f"Secret(env:{self._env})" if self._env else f"Secret('{_MASK}')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Secret) and other._env == self._env and other._value == self._value
        )

    def __hash__(self) -> int:
        return hash((self._env, self._value))

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def coerce(v: Any) -> Secret:
            return v if isinstance(v, Secret) else Secret(str(v))

        return core_schema.no_info_plain_validator_function(
            coerce,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda s: repr(s), when_used="always"
            ),
        )


def remember(value: str) -> None:
    """Mark a value as secret so ``redact`` scrubs it (e.g. a signed token)."""
    global _longest_first
    if value and len(value) >= 6 and value not in _revealed:
        with _lock:
            _revealed.add(value)
            _longest_first = tuple(sorted(_revealed, key=len, reverse=True))


def remembered() -> frozenset[str]:
    """Every value ``redact`` scrubs now (for tests that restore the set afterwards)."""
    return frozenset(_revealed)


def forget_all_but(keep: frozenset[str]) -> None:
    """Scrub only ``keep`` from now on. For test isolation: a test that reveals
    generated values (hypothesis draws string constants from the code, such as an
    error code) must not leave them masked in every later test's output."""
    global _longest_first
    with _lock:
        _revealed.intersection_update(keep)
        _longest_first = tuple(sorted(_revealed, key=len, reverse=True))


def redact(text: str) -> str:
    """``text`` with every known secret and every key-shaped token masked."""
    if not text:
        return text
    # longest first: a secret inside another (an access key id inside a signed
    # Authorization header) must not break the longer one before it is matched
    for value in _longest_first:
        if value in text:
            text = text.replace(value, _MASK)
    return _KEY_PATTERNS.sub(_MASK, text)


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs secrets from every record it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


def masked_repr_args(args: Iterable[tuple[str | None, Any]]) -> Iterator[tuple[str | None, Any]]:
    """pydantic ``__repr_args__`` with header values masked (they may hold keys), and
    ``extra`` values whose names say they are secret (``aws_secret_access_key``...)."""
    for k, v in args:
        if k == "headers" and v:
            v = {h: _MASK for h in v}
        elif k == "extra" and v:
            v = {n: (_MASK if _SECRET_NAME.search(n) else x) for n, x in v.items()}
        yield k, v


_SECRET_NAME = re.compile(r"(?i)(secret|token|password|passwd|credential|(^|_)key$)")


_SECRET_HEADER = re.compile(
    r"(?i)(auth|key|token|secret|cookie|signature|credential|^x-amz-|organization|project)"
)
_SECRET_QUERY = re.compile(r"(?i)([?&](?:key|api[-_]?key|token|access_token|sig|signature|"
                           r"x-amz-[a-z-]+)=)[^&#]*")


def mask_headers(headers: Any) -> dict[str, str]:
    """Header values for a repr or a log: credentials masked by name, any other value
    scrubbed of known secrets (a key pasted into a custom header)."""
    return {str(k): (_MASK if _SECRET_HEADER.search(str(k)) else redact(str(v)))
            for k, v in dict(headers or {}).items()}


def mask_url(url: str) -> str:
    """``url`` with credential query parameters (``?key=``...) masked."""
    return redact(_SECRET_QUERY.sub(lambda m: m.group(1) + _MASK, url))
