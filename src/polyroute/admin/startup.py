"""The one check a server runs before it serves the registry.

``startup_check`` refuses, with one error naming what to run, when the schema
is behind or ahead of this polyroute (never a 500 on every page later), and
when any stored credential cannot be decrypted with the configured keys (a
secret is never treated as empty because its key went missing).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from polyroute.admin.db import check_revision, make_engine, session_factory
from polyroute.admin.errors import RegistryKeyError
from polyroute.admin.models import Credential
from polyroute.admin.repository import Repository
from polyroute.admin.secrets import KeyRing

__all__ = ["Ready", "startup_check"]


@dataclass(frozen=True)
class Ready:
    revision: str
    credentials: int


def startup_check(source: str | Engine | Repository | None = None, *,
                  keyring: KeyRing | None = None) -> Ready:
    """Check the registry (a URL, an engine or a ``Registry``) is safe to serve; raise
    ``SchemaRevisionError`` or ``RegistryKeyError`` (naming every credential that does
    not decrypt) if not."""
    if isinstance(source, Repository):
        bind = source.sessions.kw.get("bind")
        keyring = keyring or getattr(source, "keyring", None)
        source = bind if isinstance(bind, Engine) else None
    owned = not isinstance(source, Engine)
    engine = source if isinstance(source, Engine) else make_engine(source)
    try:
        revision = check_revision(engine)
        with session_factory(engine)() as session:
            rows = list(session.execute(select(Credential.name, Credential.ciphertext)))
        if not rows:
            return Ready(revision, 0)
        keys = keyring or KeyRing.from_env()
        bad = []
        for name, cipher in rows:
            try:
                keys.decrypt(cipher, what=f"credential '{name}'")
            except RegistryKeyError:
                bad.append(name)
        if bad:
            raise RegistryKeyError(
                f"{len(bad)} stored credential(s) cannot be decrypted with the {keys.count} "
                f"key(s) from {keys.source}: {', '.join(bad[:10])}"
                + (" ..." if len(bad) > 10 else ""),
                fix="add the key they were encrypted with (POLYROUTE_ADMIN_KEYS=new,old) "
                "before starting; never start without it",
            )
        return Ready(revision, len(rows))
    finally:
        if owned:
            engine.dispose()
