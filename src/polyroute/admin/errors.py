"""The registry's errors, all inside polyroute's hierarchy.

Each names what happened, where (table, key, field) and what to do next. A
future REST API maps them to status codes: ``VersionConflictError`` to 412
(stale) or 428 (missing), ``RegistryNotFoundError`` to 404, the ``ConfigError``
subclasses to 422.
"""

from __future__ import annotations

from polyroute.errors import ConfigError, PolyrouteError

__all__ = [
    "CredentialError",
    "MaskedSecretError",
    "ReadOnlyEntryError",
    "RegistryConflictError",
    "RegistryError",
    "RegistryKeyError",
    "RegistryNotFoundError",
    "RegistryValidationError",
    "SchemaRevisionError",
    "VersionConflictError",
]


class RegistryError(PolyrouteError):
    """Something the registry (admin database) refused or could not do."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.reason = message
        self.fix = fix
        super().__init__(f"{message} — fix: {fix}" if fix else message)


class RegistryNotFoundError(RegistryError):
    """No row of that kind with that key."""


class RegistryConflictError(RegistryError):
    """The change collides with another row (a duplicate name, a second default model...)."""


class VersionConflictError(RegistryConflictError):
    """An update or delete named a version that is not the row's current one."""

    def __init__(self, kind: str, key: str, expected: int | None, actual: int) -> None:
        self.kind, self.key, self.expected, self.actual = kind, key, expected, actual
        if expected is None:
            msg = f"{kind} '{key}': a change must name the version it was based on"
        else:
            msg = f"{kind} '{key}' is at version {actual}, the change was based on {expected}"
        super().__init__(msg, fix=f"re-read {kind} '{key}' and re-apply the change on it")


class ReadOnlyEntryError(RegistryError):
    """A system entry (from the config file or a plugin) cannot be changed in the registry."""


class RegistryValidationError(ConfigError):
    """A value the registry refuses before storing it (names the table and field)."""


class MaskedSecretError(RegistryValidationError):
    """A write sent back a masked value (or something shaped like one) as a secret."""


class SchemaRevisionError(ConfigError):
    """The registry database's schema revision is not the one this polyroute needs."""


class RegistryKeyError(ConfigError):
    """The credential encryption key is missing, malformed or cannot decrypt a stored value."""


class CredentialError(RegistryError):
    """A stored credential cannot be used (unknown name, not decryptable)."""
