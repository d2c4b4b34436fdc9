"""``polyroute admin``: the registry database, its audit chain and API tokens.

Every command takes ``--registry URL`` (default ``$POLYROUTE_REGISTRY_URL``, else
the SQLite file in the user's data directory). Needs ``polyroute[admin]``; without
it each command says which extra to install.
"""

from __future__ import annotations

import getpass
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import click

from polyroute.cli.state import guarded

if TYPE_CHECKING:
    from polyroute.admin import Registry

__all__ = ["admin", "default_actor", "open_registry", "registry_options"]

P = ParamSpec("P")
R = TypeVar("R")


def default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in this environment (a container, say)
        return "cli"


def registry_options(f: Callable[P, R]) -> Callable[P, R]:
    """``--registry URL`` and ``--actor NAME`` (who the audit log names)."""
    f = click.option("--registry", "url", metavar="URL", envvar="POLYROUTE_REGISTRY_URL",
                     show_envvar=True,
                     help="Registry database URL (default: the SQLite file in "
                          "~/.local/share/polyroute).")(f)
    return click.option("--actor", metavar="NAME", default=default_actor,
                        help="Who the audit log names for changes (default: cli:$USER).")(f)


@contextmanager
def open_registry(url: str | None) -> Iterator[Registry]:
    """The registry at ``url`` after the schema check, closed after use."""
    from polyroute.admin import Registry

    reg = Registry(url)
    try:
        yield reg
    finally:
        reg.close()


def _safe(url: Any) -> str:
    return str(url.render_as_string(hide_password=True))


@click.group()
def admin() -> None:
    """The registry database: schema upgrades, the audit chain, API tokens."""


@admin.group()
def db() -> None:
    """The registry's schema: check it, upgrade it (backing up first)."""


@db.command()
@registry_options
@click.option("--yes", "-y", is_flag=True,
              help="PostgreSQL: go ahead without asking (after taking a backup).")
@guarded
def upgrade(url: str | None, actor: str, yes: bool) -> None:
    """Migrate the schema to this polyroute's revision.

    SQLite: the file is copied next to itself first, and the copy named. PostgreSQL:
    prints the pg_dump command to take a backup and asks before migrating."""
    from polyroute.admin import db as admin_db

    engine = admin_db.make_engine(url)
    try:
        head = admin_db.head_revision()
        current = _current(engine)
        safe = _safe(engine.url)
        if current == head:
            click.echo(f"{safe}: already at revision {head}; nothing to do")
            return
        if current is not None:
            if current not in _known():
                admin_db.check_revision(engine)  # ahead: refused with what to do
            backup = admin_db.backup_sqlite(engine, label=current)
            if backup is not None:
                click.echo(f"backed up {engine.url.database} to {backup} "
                           f"(restore: copy it back over the file)")
            elif engine.url.get_backend_name() == "postgresql":
                click.echo("back up the database first, e.g.:\n  "
                           + admin_db.pg_backup_hint(engine.url))
                if not yes:
                    click.confirm(f"Migrate {safe} from {current} to {head}?", abort=True)
        admin_db.upgrade_to_head(engine)
        click.echo(f"{safe}: {current or 'empty'} -> revision {head}")
    finally:
        engine.dispose()


def _current(engine: Any) -> str | None:
    from polyroute.admin import RegistryError
    from polyroute.admin.db import current_revision

    try:
        return current_revision(engine)
    except Exception as exc:
        raise RegistryError(
            f"cannot reach the registry database at {_safe(engine.url)}: "
            f"{str(getattr(exc, 'orig', exc)).splitlines()[0]}",
            fix="check the URL and that the database server is running",
        ) from None


def _known() -> set[str]:
    from alembic.script import ScriptDirectory

    from polyroute.admin.db import _alembic_config

    return {s.revision for s in ScriptDirectory.from_config(_alembic_config(None))
            .walk_revisions()}


@db.command()
@registry_options
@guarded
def check(url: str | None, actor: str) -> None:
    """Say whether the schema matches this polyroute (exit 2 with the command to run)."""
    from polyroute.admin import db as admin_db

    engine = admin_db.make_engine(url)
    try:
        click.echo(f"{_safe(engine.url)}: schema at revision "
                   f"{admin_db.check_revision(engine)} (current)")
    finally:
        engine.dispose()


@admin.group()
def audit() -> None:
    """The tamper-evident audit chain: verify it, export it."""


@audit.command()
@registry_options
@guarded
def verify(url: str | None, actor: str) -> None:
    """Re-walk the chain; name the first row changed, deleted or reordered (exit 1)."""
    with open_registry(url) as reg:
        report = reg.verify_chain()
    click.echo(str(report))
    if not report.ok:
        sys.exit(1)


@audit.command()
@click.argument("file", type=click.Path(dir_okay=False, writable=True), required=False)
@click.option("--after", "after_seq", type=click.IntRange(min=0), default=0,
              help="Only rows after this sequence number (what a SIEM already has).")
@registry_options
@guarded
def export(file: str | None, after_seq: int, url: str | None, actor: str) -> None:
    """The chain as JSON Lines (seq, prev_hash, hash, body) to FILE or stdout."""
    with open_registry(url) as reg:
        if file is None:
            n = reg.export_audit(sys.stdout, after_seq=after_seq)
        else:
            with open(file, "w", encoding="utf-8") as out:
                n = reg.export_audit(out, after_seq=after_seq)
    click.echo(f"exported {n} audit row(s)" + (f" to {file}" if file else ""), err=True)


@admin.group()
def token() -> None:
    """API tokens for the admin API: create one (the secret is shown once)."""


_DURATION = re.compile(r"^(\d+)([mhdw])$")


def _expiry(value: str | None) -> datetime | None:
    from polyroute.errors import ConfigError

    if value is None:
        return None
    m = _DURATION.match(value.strip())
    if m:
        unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[m.group(2)]
        return datetime.now(UTC) + timedelta(**{unit: int(m.group(1))})
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"'{value}' is neither a duration nor a date", field="--expires",
                          fix="use e.g. 30d, 12h, 90m, 2w or 2027-01-31T00:00:00+00:00") from None
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    if at <= datetime.now(UTC):
        raise ConfigError(f"{value} is in the past", field="--expires",
                          fix="give a future date or a duration such as 30d")
    return at


@token.command("create")
@click.option("--user", "user", required=True, metavar="NAME",
              help="The token's user (created with --role if new).")
@click.option("--role", type=click.Choice(["admin", "operator", "viewer"]), required=True)
@click.option("--expires", metavar="WHEN", help="30d, 12h, 90m, 2w or an ISO date (default: "
              "never).")
@registry_options
@guarded
def token_create(user: str, role: str, expires: str | None, url: str | None,
                 actor: str) -> None:
    """Create an API token for USER. Its secret is printed once, never stored in clear."""
    from polyroute.admin import RegistryConflictError, RegistryNotFoundError

    expires_at = _expiry(expires)
    with open_registry(url) as reg:
        try:
            row = reg.get("user", user)
        except RegistryNotFoundError:
            row = reg.create("user", {"name": user, "role": role}, actor=actor)
            click.echo(f"created user {user} ({role})", err=True)
        if row.role != role:
            raise RegistryConflictError(
                f"user '{user}' has role {row.role}, not {role}",
                fix=f"pass --role {row.role}, or change the user's role through the admin API",
            )
        token_id, secret = reg.create_token(user, actor=actor, expires_at=expires_at)
    click.echo(f"token id: {token_id}")
    click.echo(f"secret:   {secret}")
    when = expires_at.isoformat(timespec="seconds") if expires_at else "never"
    click.echo(f"expires:  {when}")
    click.echo("The secret is shown once: store it now (only its hash is kept).", err=True)


@token.command("rotate")
@click.argument("token_id")
@click.option("--grace", default="1h", show_default=True, metavar="DURATION",
              help="How long the old secret keeps working (0m ends it at once).")
@registry_options
@guarded
def token_rotate(token_id: str, grace: str, url: str | None, actor: str) -> None:
    """A new secret for TOKEN_ID (same id); the old one works until the grace ends."""
    from sqlalchemy import select

    from polyroute.admin import CredentialError
    from polyroute.admin.models import ApiToken
    from polyroute.errors import ConfigError

    m = _DURATION.match(grace.strip()) or (re.match(r"^(0)()$", grace.strip()))
    if m is None:
        raise ConfigError(f"'{grace}' is not a duration", field="--grace",
                          fix="use e.g. 0m, 90m, 12h, 1d")
    unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks", "": "minutes"}[m.group(2)]
    window = timedelta(**{unit: int(m.group(1))})
    with open_registry(url) as reg:
        with reg.reading() as session:
            version = session.execute(select(ApiToken.version).where(
                ApiToken.token_id == token_id)).scalar_one_or_none()
        if version is None:
            raise CredentialError(f"no API token '{token_id}'",
                                  fix="use the token id printed by `admin token create`")
        secret = reg.rotate_token(token_id, version=version, actor=actor, grace=window)
    click.echo(f"token id: {token_id} (unchanged)")
    click.echo(f"secret:   {secret}")
    click.echo(f"The old secret works for {grace} more. The new one is shown once.", err=True)
