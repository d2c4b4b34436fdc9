"""Secret references read from where operators keep credentials: the backend seam.

A ``Secret`` whose value is ``<scheme>:<reference>`` with a registered scheme —
``file:/run/secrets/openai``, ``aws-sm:prod/llm#openai``, ``vault:secret/llm#openai``
— is read through that scheme's ``SecretBackend`` when a request needs it, not when
the config loads. Values are cached per reference for the backend's ``ttl``
(a rotated key is picked up within it), and ``refresh`` re-reads one at once: the
router calls it when a provider answers 401/403, then retries that call once, so a
key rotated in the backend takes effect without a restart or a lost call.

This module is the registry and the cache only (no network, no vendor SDK): the
built-in backends live in ``polyroute.secret_backends`` and register themselves on
import; a third party registers one with the ``polyroute_register_secret_backends``
plugin hook or ``register_backend``. ``env:`` is handled by ``Secret`` itself
(the environment is its own cache).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from polyroute.errors import MissingSecretError, PolyrouteError

__all__ = [
    "SecretBackend", "backend_for", "clear_cache", "read_reference", "refresh_reference",
    "register_backend", "registered_schemes",
]

REFRESH_COALESCE_S = 1.0
"""A refresh asked for within this long of the last read reuses that read: a burst of
401s after a rotation costs the backend one request, not one per call."""


@runtime_checkable
class SecretBackend(Protocol):
    """Reads ``reference`` (the part after ``scheme:``) and returns the secret value.

    Raise ``MissingSecretError`` (or any exception: it is wrapped in one, its text
    scrubbed) when it cannot. ``ttl``: seconds a read value is reused (0: every time).
    """

    scheme: str

    @property
    def ttl(self) -> float: ...

    def read(self, reference: str) -> str: ...


@dataclass(slots=True)
class _Entry:
    value: str
    read_at: float
    changed: bool
    """Whether the read that stored ``value`` replaced a different one."""
    refreshed: bool = False
    """Stored by ``refresh_reference`` (only those coalesce a burst of refreshes)."""


_backends: dict[str, SecretBackend] = {}
_cache: dict[str, _Entry] = {}
_lock = threading.Lock()
_ref_locks: dict[str, threading.Lock] = {}
clock: Callable[[], float] = time.monotonic


def register_backend(backend: SecretBackend) -> None:
    """Make ``backend.scheme:`` references resolvable (a later one replaces an earlier)."""
    scheme = getattr(backend, "scheme", "")
    if not scheme or not scheme.replace("-", "").isalnum() or scheme != scheme.lower():
        raise PolyrouteError(f"secret backend scheme {scheme!r} is not a lower-case name "
                             "(letters, digits, '-')")
    with _lock:
        _backends[scheme] = backend


def registered_schemes() -> list[str]:
    return sorted(_backends)


def backend_for(value: str) -> tuple[SecretBackend, str] | None:
    """``(backend, reference)`` when ``value`` names a registered scheme, else ``None``."""
    scheme, sep, reference = value.partition(":")
    if not sep:
        return None
    backend = _backends.get(scheme)
    return (backend, reference) if backend is not None else None


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def _read(backend: SecretBackend, reference: str, what: str) -> str:
    try:
        value = backend.read(reference)
    except MissingSecretError:
        raise
    except Exception as exc:  # a vendor SDK's own error: typed, and never its text as is
        from polyroute.secrets import redact

        raise MissingSecretError(
            f"{what}: the {backend.scheme} secret backend could not read '{reference}' "
            f"({type(exc).__name__}: {redact(str(exc))[:300]})",
            fix=f"check that '{reference}' exists and this process may read it "
                f"(docs/secrets.md, '{backend.scheme}')",
        ) from None
    if not isinstance(value, str) or not value:
        raise MissingSecretError(f"{what}: the {backend.scheme} secret '{reference}' is empty",
                                 fix="store a value there")
    return value


def _ref_lock(key: str) -> threading.Lock:
    with _lock:
        return _ref_locks.setdefault(key, threading.Lock())


def read_reference(backend: SecretBackend, reference: str, *, what: str) -> str:
    """The value, from the cache while it is fresh, else read (one reader per reference)."""
    key = f"{backend.scheme}:{reference}"
    ttl = backend.ttl  # first: a bad TTL setting is an error on every read, not a cache miss
    entry = _cache.get(key)
    if entry is not None and clock() - entry.read_at < ttl:
        return entry.value
    with _ref_lock(key):
        entry = _cache.get(key)
        if entry is not None and clock() - entry.read_at < ttl:
            return entry.value
        value = _read(backend, reference, what)
        _cache[key] = _Entry(value, clock(), entry is not None and entry.value != value)
        return value


def refresh_reference(backend: SecretBackend, reference: str, *, what: str) -> bool:
    """Re-read now; ``True`` when the value changed (worth retrying with it)."""
    key = f"{backend.scheme}:{reference}"
    with _ref_lock(key):
        entry = _cache.get(key)
        if (entry is not None and entry.refreshed
                and clock() - entry.read_at < REFRESH_COALESCE_S):
            return entry.changed  # another caller just re-read it
        value = _read(backend, reference, what)
        changed = entry is None or entry.value != value
        _cache[key] = _Entry(value, clock(), changed, refreshed=True)
        return changed
