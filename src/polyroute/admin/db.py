"""Connecting to the registry database and keeping its schema current.

SQLite by default (one owner-only file), PostgreSQL by URL
(``postgresql+psycopg://user@host/db``). Migrations are Alembic revisions
shipped inside the package and run programmatically: no alembic.ini needed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from polyroute.admin.errors import RegistryError, SchemaRevisionError

__all__ = [
    "READ_ONLY",
    "URL_ENV",
    "backup_sqlite",
    "check_revision",
    "connect",
    "current_revision",
    "default_url",
    "head_revision",
    "make_engine",
    "session_factory",
    "upgrade_to_head",
]

URL_ENV = "POLYROUTE_REGISTRY_URL"
READ_ONLY = "polyroute_read_only"
"""Execution option of a read-only transaction (SQLite: a deferred BEGIN)."""
_MIGRATIONS = Path(__file__).parent / "migrations"


def default_url() -> str:
    """``$POLYROUTE_REGISTRY_URL``, else a SQLite file in the user's data directory."""
    if os.environ.get(URL_ENV):
        return os.environ[URL_ENV]
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return f"sqlite:///{Path(base) / 'polyroute' / 'registry.db'}"


def _prepare_sqlite_file(path: str) -> None:
    """Create the file owner-only before SQLite does (it would use the umask)."""
    if path in ("", ":memory:") or path.startswith("file:"):
        return
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not p.exists():
        os.close(os.open(p, os.O_WRONLY | os.O_CREAT, 0o600))
    os.chmod(p, 0o600)


def make_engine(url: str | None = None, **kwargs: Any) -> Engine:
    """An engine for ``url`` (default: ``default_url()``) set up for the registry."""
    url = url or default_url()
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise RegistryError(
            "the registry URL is not a database URL",
            fix="use sqlite:///path/registry.db or postgresql+psycopg://user@host/db",
        ) from None
    if parsed.get_backend_name() == "sqlite":
        _prepare_sqlite_file(parsed.database or "")
        engine = create_engine(
            parsed, connect_args={"timeout": 60, "check_same_thread": False}, **kwargs
        )
        _sqlite_immediate(engine)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise RegistryError(
            f"registry backend '{parsed.get_backend_name()}' is not supported",
            fix="use SQLite (sqlite:///...) or PostgreSQL (postgresql+psycopg://...)",
        )
    return create_engine(parsed, pool_pre_ping=True, **kwargs)


def _sqlite_immediate(engine: Engine) -> None:
    """Every SQLite transaction takes the write lock up front (BEGIN IMMEDIATE).

    That serialises writers (and so the audit chain) across processes, and a
    read-then-write never fails half-way with "database is locked".
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # reads stay deferred: under WAL they never wait for a writer (a rotation, say)
        read = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def _alembic_config(engine: Engine | None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config(None)).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade_to_head(url_or_engine: str | Engine | None = None) -> str:
    """Bring the schema to this polyroute's head revision; returns it."""
    engine = (
        url_or_engine if isinstance(url_or_engine, Engine) else make_engine(url_or_engine)
    )
    try:
        command.upgrade(_alembic_config(engine), "head")
    except OperationalError as exc:
        raise RegistryError(
            f"could not migrate the registry at {engine.url!r}: {exc.orig}",
            fix="check the URL, that the database server runs and that the user may "
            "create tables",
        ) from None
    return head_revision()


def backup_sqlite(engine: Engine, *, label: str) -> Path | None:
    """Copy a SQLite registry (with SQLite's online backup, safe under WAL) next to
    itself, owner-only; ``None`` for PostgreSQL or an in-memory database."""
    import sqlite3
    from datetime import UTC, datetime

    if engine.url.get_backend_name() != "sqlite":
        return None
    path = engine.url.database or ""
    if path in ("", ":memory:") or path.startswith("file:") or not Path(path).is_file():
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = Path(f"{path}.{label}-{stamp}.bak")
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    src, dst = sqlite3.connect(path), sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()
    return target


def pg_backup_hint(url: URL) -> str:
    """How to back up a PostgreSQL registry before migrating it (no password shown)."""
    safe = url.set(drivername="postgresql").render_as_string(hide_password=True)
    safe = safe.replace(":***@", "@")
    return f"pg_dump --format=custom --file polyroute-registry.dump '{safe}'"


def upgrade_command(url: URL) -> str:
    safe = url.render_as_string(hide_password=True)
    return (f"polyroute admin db upgrade --registry '{safe}' "
            f"(or: python -m polyroute.admin upgrade '{safe}')")


def check_revision(engine: Engine) -> str:
    """The schema revision, or one ``SchemaRevisionError`` saying what to run."""
    head = head_revision()
    try:
        current = current_revision(engine)
    except OperationalError as exc:
        raise RegistryError(
            f"cannot reach the registry database at {engine.url!r}: {exc.orig}",
            fix="check the URL and that the database server is running",
        ) from None
    if current == head:
        return head
    cmd = upgrade_command(engine.url)
    if current is None:
        raise SchemaRevisionError(
            f"the registry database has no polyroute schema (this polyroute needs "
            f"revision {head})", fix=f"run: {cmd}",
        )
    scripts = ScriptDirectory.from_config(_alembic_config(engine))
    known = {s.revision for s in scripts.walk_revisions()}
    if current in known:
        raise SchemaRevisionError(
            f"the registry database is at revision {current}, behind this polyroute's "
            f"{head}", fix=f"back up the database, then run: {cmd}",
        )
    raise SchemaRevisionError(
        f"the registry database is at revision {current}, which this polyroute does not "
        f"know (it is ahead: a newer polyroute migrated it; this one needs {head})",
        fix="upgrade polyroute to the version that migrated the database "
        "(never downgrade the database under a running newer version)",
    )


def connect(url: str | None = None, *, check: bool = True) -> sessionmaker[Session]:
    """A session factory for the registry at ``url``, after the revision check."""
    engine = make_engine(url)
    if check:
        check_revision(engine)
    return session_factory(engine)
