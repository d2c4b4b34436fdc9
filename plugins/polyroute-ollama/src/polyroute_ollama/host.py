"""Where the Ollama server is: ``settings.base_url``, else ``OLLAMA_HOST``, else localhost.

``OLLAMA_HOST`` is what the ``ollama`` CLI reads, and people set it the way
the server's docs show: ``0.0.0.0``, ``localhost:11434``, ``myhost`` or a full
``https://ollama.example.com``. ``normalize_host`` turns any of these into a
base URL the way the official clients do: the scheme defaults to ``http``,
the port to 11434 (443 for ``https``), and a path prefix (a reverse proxy's
``/ollama``) is kept.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from polyroute.errors import ConfigError

__all__ = ["DEFAULT_HOST", "HOST_ENV", "normalize_host", "resolve_host"]

DEFAULT_HOST = "http://localhost:11434"
HOST_ENV = "OLLAMA_HOST"
_DEFAULT_PORT = 11434


def normalize_host(value: str) -> str:
    """``host``, ``host:port`` or a URL → ``scheme://host:port[/path]`` (no trailing slash)."""
    raw = value.strip()
    if not raw:
        raise ValueError("empty Ollama host")
    if "://" not in raw:
        raw = f"http://{raw}"
    parts = urlsplit(raw)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise ValueError(f"Ollama host must be http or https, got {parts.scheme!r}")
    try:
        port = parts.port
    except ValueError as exc:  # a port that is not a number
        raise ValueError(f"bad port in Ollama host {value!r}") from exc
    host = parts.hostname or "localhost"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port is None:
        port = 443 if scheme == "https" else _DEFAULT_PORT
    path = parts.path.rstrip("/")
    return f"{scheme}://{host}:{port}{path}"


def resolve_host(base_url: str | None, *, provider: str = "ollama") -> str:
    """The base URL for a provider: its ``base_url``, else ``$OLLAMA_HOST``, else localhost."""
    source, value = "base_url", base_url
    if not value:
        source, value = HOST_ENV, os.environ.get(HOST_ENV)
    if not value:
        return DEFAULT_HOST
    try:
        return normalize_host(value)
    except ValueError as exc:
        field = f"providers.{provider}.base_url" if source == "base_url" else None
        raise ConfigError(
            f"{source} for provider '{provider}' is not a usable Ollama host: {exc}",
            field=field, fix="use host, host:port or http(s)://host:port",
        ) from None
