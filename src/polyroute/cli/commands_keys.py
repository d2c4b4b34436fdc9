"""``polyroute keys``: the registry's credential encryption keys and stored secrets.

Rotation with no downtime (docs/admin.md): ``keys add`` puts a new key first in
the key file (or prints one for ``POLYROUTE_ADMIN_KEYS``), every process is given
both keys, ``keys rotate`` re-encrypts every credential under the new key while
the old one still decrypts, then the old key is removed.
"""

from __future__ import annotations

import os
import sys

import click

from polyroute.cli.commands_admin import open_registry, registry_options
from polyroute.cli.state import guarded

__all__ = ["keys"]


@click.group()
def keys() -> None:
    """Credential encryption keys: add one, rotate to it; store a secret."""


@keys.command()
@click.option("--batch", type=click.IntRange(min=1, max=10_000), default=100,
              help="Credentials re-encrypted per transaction (short ones never block readers).")
@registry_options
@guarded
def rotate(batch: int, url: str | None, actor: str) -> None:
    """Re-encrypt every credential under the first configured key.

    Give every process the new key first (POLYROUTE_ADMIN_KEYS=new,old or the
    key file with the new key on top): until rotation ends, rows still under the
    old key decrypt with it."""
    from polyroute.admin import KeyRing

    ring = KeyRing.from_env()
    with open_registry(url) as reg:
        reg.keyring = ring
        n = reg.rotate_keys(actor=actor, batch=batch)
    click.echo(f"re-encrypted {n} credential(s) under key #1 of {ring.source}")
    if ring.count == 1:
        click.echo("note: only one key is configured, so nothing moved to a new key; add "
                   "one first with `polyroute keys add`", err=True)
    else:
        click.echo(f"the other {ring.count - 1} key(s) can be removed once every process "
                   "has the new one", err=True)


@keys.command()
@click.option("--file", "key_file", metavar="PATH", type=click.Path(dir_okay=False),
              help="The key file to add to (default: $POLYROUTE_ADMIN_KEY_FILE or "
                   "~/.config/polyroute/admin.key).")
@click.option("--print", "print_only", is_flag=True,
              help="Only print a new key (for POLYROUTE_ADMIN_KEYS=<new>,<old>).")
@guarded
def add(key_file: str | None, print_only: bool) -> None:
    """Make a new key and put it first in the key file (owner-only); old keys stay."""
    from cryptography.fernet import Fernet

    from polyroute.admin.secrets import KEY_FILE_ENV, KeyRing, default_key_file, write_key_file

    new = Fernet.generate_key().decode()
    if print_only:
        click.echo(new)
        return
    path = key_file or os.environ.get(KEY_FILE_ENV) or str(default_key_file())
    old: list[str] = []
    if os.path.exists(path):
        KeyRing.from_file(path)  # refuses a group/world-readable or malformed file
        with open(path, encoding="utf-8") as f:
            old = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    write_key_file(path, [new, *old])
    click.echo(f"added a new key to {path} ({len(old) + 1} key(s), the new one first); "
               "restart or reload every process that reads it, then run: polyroute keys rotate")


@keys.command("set")
@click.argument("name")
@click.option("--from-env", "env_name", metavar="VAR",
              help="Read the secret from this environment variable instead of a prompt.")
@registry_options
@guarded
def set_(name: str, env_name: str | None, url: str | None, actor: str) -> None:
    """Store (or replace) the secret NAME, encrypted. The value is never echoed.

    Reads it from a hidden prompt, from --from-env VAR, or from stdin when piped.
    An env:NAME value stores a reference instead of a secret."""
    from polyroute.admin import CredentialError, RegistryNotFoundError
    from polyroute.errors import ConfigError

    if env_name:
        value = os.environ.get(env_name, "")
        if not value:
            raise ConfigError(f"environment variable {env_name} is not set or empty",
                              field="--from-env", fix=f"export {env_name}=... first")
    elif not sys.stdin.isatty():
        value = sys.stdin.readline().rstrip("\r\n")
    else:
        value = click.prompt(f"secret for {name}", hide_input=True, confirmation_prompt=True)
    with open_registry(url) as reg:
        try:
            version: int | None = reg.get("credential", name).version
        except (RegistryNotFoundError, CredentialError):
            version = None
        reg.put_credential(name, value, actor=actor, version=version)
        shown = reg.masked_credential(name)
    click.echo(f"{'replaced' if version else 'stored'} credential {name} ({shown})")
