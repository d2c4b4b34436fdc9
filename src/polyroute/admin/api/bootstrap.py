"""What ``polyroute serve`` does before it listens: the schema, the key, the first token.

- **Schema**: an empty database gets the schema (as ``python -m polyroute.admin
  upgrade`` would make it); one behind or ahead of this polyroute is refused with
  one message and the command to run, never served with a 500 on every page.
- **Encryption key**: with no key configured, a fresh owner-only key file is
  written at the default path (``~/.config/polyroute/admin.key``).
- **First admin token**: with no user at all, an ``admin`` user and one token are
  made and the token is written to an owner-only file (never printed, never
  logged); the operator reads it once and deletes the file.
- **Exposure**: a non-loopback address is refused unless an admin token exists
  already (made by an earlier run on loopback, or ``--init-only``), so the
  server is never reachable before it can authenticate anyone.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from polyroute.admin import Registry
from polyroute.admin.db import current_revision, make_engine, upgrade_to_head
from polyroute.admin.errors import RegistryError, RegistryKeyError
from polyroute.admin.models import ApiToken, User
from polyroute.admin.secrets import KEY_ENV, KEY_FILE_ENV, KEYS_ENV, KeyRing, default_key_file
from polyroute.admin.secrets import write_key_file as _write_key_file
from polyroute.admin.startup import startup_check
from polyroute.errors import ConfigError

__all__ = ["Prepared", "default_token_file", "is_loopback", "prepare"]

TOKEN_FILE_ENV = "POLYROUTE_ADMIN_TOKEN_FILE"


def default_token_file() -> Path:
    if os.environ.get(TOKEN_FILE_ENV):
        return Path(os.environ[TOKEN_FILE_ENV]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "polyroute" / "admin-token"


def is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Prepared:
    registry: Registry
    notes: list[str] = field(default_factory=list)
    """What was done, for the operator (never a secret)."""


def _keyring(notes: list[str]) -> KeyRing:
    try:
        return KeyRing.from_env()
    except RegistryKeyError:
        configured = any(os.environ.get(v) for v in (KEYS_ENV, KEY_ENV, KEY_FILE_ENV))
        if configured or default_key_file().exists():
            raise  # a key was configured but is unusable: never paper over that
        path = _write_key_file(default_key_file())
        notes.append(f"created the credential encryption key {path} (owner-only); back it up: "
                     "without it the stored credentials cannot be decrypted")
        return KeyRing.from_file(path)


def _active_admin_tokens(reg: Registry) -> int:
    now = datetime.now(UTC)
    with reg.reading() as session:
        rows = session.execute(
            select(ApiToken.expires_at).join(User)
            .where(User.role == "admin", ApiToken.revoked.is_(False))
        ).all()
    return sum(1 for (exp,) in rows
               if exp is None or (exp if exp.tzinfo else exp.replace(tzinfo=UTC)) > now)


def _write_secret(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret + "\n")


def prepare(url: str | None, *, host: str = "127.0.0.1",
            token_file: str | os.PathLike[str] | None = None) -> Prepared:
    """Make the registry at ``url`` ready to serve on ``host`` (see the module doc)."""
    notes: list[str] = []
    engine = make_engine(url)
    safe = engine.url.render_as_string(hide_password=True)
    try:
        revision = current_revision(engine)
    except OperationalError as exc:
        raise RegistryError(f"cannot reach the registry database at {safe}: {exc.orig}",
                            fix="check the URL and that the database server is running"
                            ) from None
    if revision is None:
        notes.append(f"created the registry schema in {safe} (revision "
                     f"{upgrade_to_head(engine)})")
    reg = Registry(engine)
    reg.keyring = _keyring(notes)
    # behind or ahead: one SchemaRevisionError with the command; a stored credential no
    # key decrypts: RegistryKeyError naming it (never served as empty)
    startup_check(reg, keyring=reg.keyring)
    with reg.reading() as session:
        has_users = session.execute(select(User.id).limit(1)).first() is not None
    if not has_users:
        if not is_loopback(host):
            raise ConfigError(
                f"refusing to listen on {host}: the registry has no admin token yet, so the "
                "API would be reachable before anyone can authenticate",
                fix="run `polyroute serve --init-only` first (it writes the first admin "
                "token to a file), then start the server on this address")
        path = Path(token_file).expanduser() if token_file else default_token_file()
        if path.exists():
            raise ConfigError(
                f"the first admin token would be written to {path}, which exists",
                fix=f"delete {path} (it belongs to an older registry) or pass "
                "--bootstrap-token-file PATH")
        reg.create("user", {"name": "admin", "role": "admin"}, actor="polyroute serve")
        token_id, secret = reg.create_token("admin", actor="polyroute serve")
        _write_secret(path, secret)
        notes.append(f"first run: created the user 'admin' and its API token {token_id}; the "
                     f"token is in {path} (owner-only): read it, keep it safe, delete the file")
    elif not is_loopback(host) and _active_admin_tokens(reg) == 0:
        raise ConfigError(
            f"refusing to listen on {host}: no admin has an active API token, so admin "
            "authentication is not configured",
            fix="create an admin token first: `polyroute admin token create --role admin`, "
            "or from Python: Registry(url).create_token(<admin user>, actor=...)")
    return Prepared(reg, notes)
