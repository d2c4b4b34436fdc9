"""polyroute's registry (``pip install 'polyroute[admin]'``): providers, models,
templates, credentials, routes, agents, budgets, users and an audit chain in
SQLite or PostgreSQL, and a config source the router reads.

Nothing in the core imports this package; it imports the core.
"""

from __future__ import annotations

from typing import IO

from polyroute.errors import MissingExtraError

try:
    import alembic  # noqa: F401
    import cryptography  # noqa: F401
    import sqlalchemy  # noqa: F401
except ImportError as _exc:  # say which extra, not a bare ModuleNotFoundError
    raise MissingExtraError(
        "the registry (polyroute.admin)", package=_exc.name or "sqlalchemy", extra="admin",
        module=_exc.name or "sqlalchemy",
    ) from None

from polyroute.admin.approvals import ApprovalRequiredError, ApprovalsMixin
from polyroute.admin.audit import ChainReport, export_jsonl, verify_chain
from polyroute.admin.credentials import TokensMixin
from polyroute.admin.db import check_revision, connect, default_url, make_engine, upgrade_to_head
from polyroute.admin.errors import (
    CredentialError,
    MaskedSecretError,
    ReadOnlyEntryError,
    RegistryConflictError,
    RegistryError,
    RegistryKeyError,
    RegistryNotFoundError,
    RegistryValidationError,
    SchemaRevisionError,
    VersionConflictError,
)
from polyroute.admin.secrets import KeyRing, write_key_file
from polyroute.admin.startup import Ready, startup_check

__all__ = [
    "ApprovalRequiredError",
    "ChainReport",
    "CredentialError",
    "KeyRing",
    "MaskedSecretError",
    "ReadOnlyEntryError",
    "Ready",
    "Registry",
    "RegistryConflictError",
    "RegistryError",
    "RegistryKeyError",
    "RegistryNotFoundError",
    "RegistryValidationError",
    "SchemaRevisionError",
    "VersionConflictError",
    "check_revision",
    "connect",
    "default_url",
    "make_engine",
    "registry_config",
    "startup_check",
    "sync_system_entries",
    "upgrade_to_head",
    "verify_chain",
    "write_key_file",
]


class Registry(ApprovalsMixin, TokensMixin):
    """The registry at a URL (or a session factory / engine): CRUD, credentials, tokens."""

    def verify_chain(self) -> ChainReport:
        with self.reading() as session:
            return verify_chain(session)

    def export_audit(self, out: IO[str], *, after_seq: int = 0) -> int:
        """The audit rows after ``after_seq`` as JSON Lines; returns how many."""
        with self.reading() as session:
            return export_jsonl(session, out, after_seq=after_seq)


from polyroute.admin.source import registry_config, sync_system_entries  # noqa: E402
