"""Credential encryption: MultiFernet keys from the environment or an owner-only file.

``POLYROUTE_ADMIN_KEYS`` (comma-separated, newest first) or ``POLYROUTE_ADMIN_KEY``;
otherwise the file at ``POLYROUTE_ADMIN_KEY_FILE`` (default
``~/.config/polyroute/admin.key``), one key a line, newest first. The first key
encrypts; every key decrypts, which is what lets a rotation run with no downtime.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from polyroute.admin.errors import MaskedSecretError, RegistryKeyError

__all__ = [
    "KEYS_ENV",
    "KEY_ENV",
    "KEY_FILE_ENV",
    "KeyRing",
    "check_not_masked",
    "default_key_file",
    "looks_masked",
    "mask",
    "write_key_file",
]

KEYS_ENV = "POLYROUTE_ADMIN_KEYS"
KEY_ENV = "POLYROUTE_ADMIN_KEY"
KEY_FILE_ENV = "POLYROUTE_ADMIN_KEY_FILE"

# What masks look like here and in other tools' UIs: runs of * or •, an ellipsis,
# "[REDACTED]"; a secret containing one of these is far more likely a re-sent mask.
_MASKED = re.compile(r"(\*{3,}|•{2,}|…|\.\.\.|\[redacted\]|<redacted>|<masked>)", re.I)


def mask(value: str) -> str:
    """At most the last four characters; nothing at all of a short value."""
    return f"****{value[-4:]}" if len(value) >= 12 else "****"


def looks_masked(value: str) -> bool:
    return bool(_MASKED.search(value))


def check_not_masked(value: str, *, field: str) -> None:
    if looks_masked(value):
        raise MaskedSecretError(
            "the value looks like a masked secret (it contains '****', '…' or similar); "
            "storing it would replace the real secret with its mask",
            field=field,
            fix="send the full secret, or leave the field out to keep the stored one",
        )


def default_key_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "polyroute" / "admin.key"


def write_key_file(path: str | os.PathLike[str], keys: Sequence[str] | None = None) -> Path:
    """Create (owner-only, 0600) a key file holding ``keys`` or one fresh key."""
    p = Path(path).expanduser()
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    lines = list(keys) if keys else [Fernet.generate_key().decode()]
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(lines) + "\n")
    os.chmod(p, 0o600)
    return p


class KeyRing:
    """The MultiFernet over the configured keys (the first one encrypts)."""

    def __init__(self, keys: Sequence[str | bytes], *, source: str = "keys") -> None:
        if not keys:
            raise RegistryKeyError(
                f"no credential encryption key in {source}",
                fix=f"set {KEY_ENV} to a key from Fernet.generate_key() or create a key file",
            )
        fernets = []
        for i, key in enumerate(keys):
            try:
                fernets.append(Fernet(key.strip()))
            except (ValueError, TypeError):
                # never echo the key: say which one and what shape is expected
                raise RegistryKeyError(
                    f"key #{i + 1} in {source} is not a Fernet key "
                    "(32 url-safe base64-encoded bytes)",
                    fix="generate one with: python -c 'from cryptography.fernet import "
                    "Fernet; print(Fernet.generate_key().decode())'",
                ) from None
        self.source = source
        self.count = len(fernets)
        self._fernet = MultiFernet(fernets)

    def __repr__(self) -> str:
        return f"KeyRing({self.count} key(s) from {self.source})"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, key_file: str | None = None
    ) -> KeyRing:
        env = os.environ if environ is None else environ
        if env.get(KEYS_ENV):
            return cls([k for k in env[KEYS_ENV].split(",") if k.strip()], source=KEYS_ENV)
        if env.get(KEY_ENV):
            return cls([env[KEY_ENV]], source=KEY_ENV)
        path = Path(key_file or env.get(KEY_FILE_ENV) or default_key_file())
        return cls.from_file(path)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> KeyRing:
        p = Path(path).expanduser()
        if not p.is_file():
            raise RegistryKeyError(
                f"no credential encryption key: {KEYS_ENV} and {KEY_ENV} are unset and "
                f"key file {p} does not exist", file=str(p),
                fix=f"create it with polyroute.admin.write_key_file('{p}') or set {KEY_ENV}",
            )
        mode = p.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise RegistryKeyError(
                f"key file {p} is readable by others (mode {stat.S_IMODE(mode):o})",
                file=str(p), fix=f"chmod 600 {p}",
            )
        keys = [ln for ln in p.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
        return cls(keys, source=str(p))

    def encrypt(self, value: str) -> bytes:
        return self._fernet.encrypt(value.encode())

    def decrypt(self, token: bytes, *, what: str = "credential") -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            raise RegistryKeyError(
                f"{what} cannot be decrypted with any of the {self.count} key(s) from "
                f"{self.source}",
                fix="add the key it was encrypted with (keys are tried in order)",
            ) from None

    def rotate(self, token: bytes, *, what: str = "credential") -> bytes:
        """Re-encrypt under the first key (readable by every key until then)."""
        try:
            return self._fernet.rotate(token)
        except InvalidToken:
            raise RegistryKeyError(
                f"{what} cannot be decrypted with any key from {self.source}, so it "
                "cannot be rotated",
                fix="add the key it was encrypted with after the new one",
            ) from None
