"""Credentials (encrypted at rest, write-only) and API tokens (hashed, stable ids)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from polyroute.admin.audit import record
from polyroute.admin.errors import CredentialError, RegistryValidationError
from polyroute.admin.models import ApiToken, Credential, User
from polyroute.admin.repository import Repository, check_version
from polyroute.admin.secrets import KeyRing, check_not_masked, mask
from polyroute.secrets import remember

__all__ = ["CredentialsMixin", "TokensMixin"]


class CredentialsMixin(Repository):
    keyring: KeyRing | None = None

    _keys_from_env = False

    def _keys(self) -> KeyRing:
        if self.keyring is None:
            self.keyring = KeyRing.from_env()
            self._keys_from_env = True
        return self.keyring

    def reload_keys(self) -> bool:
        """Re-read the keys from the environment / key file, if that is where they came
        from (a key added to the file during a rotation); False for an injected ring."""
        if self.keyring is not None and not self._keys_from_env:
            return False
        self.keyring, self._keys_from_env = KeyRing.from_env(), True
        return True

    def put_credential(self, name: str, value: str, *, actor: str, version: int | None = None,
                       request_id: str | None = None) -> Credential:
        """Store (``version=None``: create) or replace a secret. Never stores a mask."""
        if not isinstance(value, str) or not value.strip():
            raise RegistryValidationError(
                "a credential needs a non-empty value", file="registry",
                field=f"credentials.{name}.value", fix="send the secret as a string",
            )
        check_not_masked(value, field=f"credentials.{name}.value")
        with self.writing() as (session, head):
            return self.put_credential_in(session, head, name, value, actor=actor,
                                          version=version, request_id=request_id)

    def put_credential_in(self, session: Any, head: Any, name: str, value: str, *, actor: str,
                          version: int | None = None, request_id: str | None = None
                          ) -> Credential:
        """``put_credential`` inside a transaction the caller holds."""
        check_not_masked(value, field=f"credentials.{name}.value")
        is_env = value.startswith("env:")
        cipher = self._keys().encrypt(value)
        last_four = "" if is_env or len(value) < 12 else value[-4:]
        shown = {"name": name, "value": value if is_env else mask(value)}
        row = session.execute(
            select(Credential).where(Credential.name == name)
        ).scalar_one_or_none()
        before = None
        if version is None:
            if row is not None:
                raise RegistryValidationError(
                    f"credential '{name}' exists", file="registry",
                    field=f"credentials.{name}",
                    fix=f"pass version={row.version} to replace it",
                )
            row = Credential(name=name, created_by=actor)
            session.add(row)
            action = "create"
        else:
            if row is None:
                raise CredentialError(f"no credential '{name}'",
                                      fix="create it first (version=None)")
            check_version("credential", name, row, version, False)
            before, action = {"name": name, "last_four": row.last_four}, "update"
        row.ciphertext, row.last_four, row.is_env_ref = cipher, last_four, is_env
        session.flush()
        assert isinstance(row, Credential)
        record(session, head, actor=actor, action=action, target_type="credential",
               target_key=name, before=before, after=shown, request_id=request_id)
        return row

    def masked_credential(self, name: str) -> str:
        with self.reading() as session:
            row = self._credential(session, name)
            return "****" + row.last_four if row.last_four else "****"

    def reveal_credential(self, name: str) -> str:
        """The clear value, for building a provider; remembered so logs scrub it."""
        with self.reading() as session:
            row = self._credential(session, name)
            value = self._keys().decrypt(row.ciphertext, what=f"credential '{name}'")
        remember(value)
        return value

    def delete_credential(self, name: str, *, version: int | None, actor: str) -> None:
        self.delete("credential", name, version=version, actor=actor)

    def rotate_keys(self, *, actor: str, batch: int = 100) -> int:
        """Re-encrypt every credential under the keyring's first key; returns the count.

        Runs in batches of short transactions, so readers are never blocked for
        long; until it finishes, rows under the old key still decrypt because
        the old key stays in the ring.
        """
        keys, done, last_id = self._keys(), 0, 0
        while True:
            with self.writing() as (session, head):
                rows = list(session.execute(
                    select(Credential).where(Credential.id > last_id)
                    .order_by(Credential.id).limit(batch)
                ).scalars())
                if not rows:
                    return done + self._rotate_token_secrets(session, keys)
                for row in rows:
                    row.ciphertext = keys.rotate(row.ciphertext, what=f"credential '{row.name}'")
                session.flush()
                record(session, head, actor=actor, action="rotate", target_type="credential",
                       target_key=f"{len(rows)} credential(s)", before=None,
                       after={"names": [r.name for r in rows]})
                done, last_id = done + len(rows), rows[-1].id

    @staticmethod
    def _rotate_token_secrets(session: Any, keys: KeyRing) -> int:
        """The secrets kept for token-rotation retries move to the new key too (no audit
        row: they are not credentials, and nothing an operator sees changes)."""
        rows = list(session.execute(
            select(ApiToken).where(ApiToken.rotation_secret.is_not(None))).scalars())
        for tok in rows:
            assert tok.rotation_secret is not None
            tok.rotation_secret = keys.rotate(tok.rotation_secret, what=f"token '{tok.token_id}'")
        return 0

    def _credential(self, session: Any, name: str) -> Credential:
        stmt = select(Credential).where(Credential.name == name)
        row: Credential | None = session.execute(stmt).scalar_one_or_none()
        if row is None:
            raise CredentialError(f"no credential '{name}' in the registry",
                                  fix="store it with put_credential")
        return row


RETRY_WINDOW = timedelta(hours=24)
"""How long a token rotation can be retried with the same Idempotency-Key."""


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite gives naive UTC back


def _before(at: datetime | None) -> bool:
    """``at`` is still in the future."""
    return at is not None and _aware(at) > datetime.now(UTC)


def _hash_token(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokensMixin(Repository):
    if TYPE_CHECKING:  # CredentialsMixin provides it in Registry
        def _keys(self) -> KeyRing: ...

    def create_token(self, user: str, *, actor: str, expires_at: datetime | None = None
                     ) -> tuple[str, str]:
        """A new API token for ``user``: ``(token_id, secret)``; the secret is shown once."""
        secret = "prt_" + secrets.token_urlsafe(32)
        token_id = "tok_" + secrets.token_hex(8)
        with self.writing() as (session, head):
            owner = self._find(session, "user", user)
            session.add(ApiToken(token_id=token_id, user=owner, token_hash=_hash_token(secret),
                                 expires_at=expires_at))
            session.flush()
            record(session, head, actor=actor, action="create", target_type="api_token",
                   target_key=token_id, before=None,
                   after={"user": user, "expires_at": expires_at})
        return token_id, secret

    def authenticate(self, secret: str) -> User | None:
        """The token's user, or ``None`` if it is unknown, expired or revoked.

        A secret replaced by ``rotate_token`` still works until its grace window ends."""
        digest = _hash_token(secret)
        with self.reading() as session:
            tok = session.execute(
                select(ApiToken).where(ApiToken.token_hash == digest)
            ).scalar_one_or_none()
            if tok is None:
                tok = session.execute(
                    select(ApiToken).where(ApiToken.previous_hash == digest)
                ).scalar_one_or_none()
                if tok is None or not _before(tok.previous_expires_at):
                    return None
            if tok.revoked or (tok.expires_at is not None and not _before(tok.expires_at)):
                return None
            user: User = tok.user
            return user

    def rotate_token(self, token_id: str, *, version: int | None, actor: str,
                     grace: timedelta = timedelta(hours=1), idempotency_key: str | None = None,
                     request_id: str | None = None) -> str:
        """A new secret for ``token_id`` (same id); the old one works for ``grace`` more.

        With ``idempotency_key``: a retry carrying the same key within
        ``RETRY_WINDOW`` of the rotation returns the same secret and rotates nothing
        (a lost response can be retried safely); the secret is kept encrypted for it.
        """
        if grace < timedelta(0):
            raise RegistryValidationError("the grace window cannot be negative",
                                          file="registry", field="grace",
                                          fix="use 0 to end the old secret at once")
        if idempotency_key is not None and not 0 < len(idempotency_key) <= 200:
            raise RegistryValidationError("an Idempotency-Key is 1 to 200 characters",
                                          file="registry", field="Idempotency-Key",
                                          fix="send a UUID")
        secret = "prt_" + secrets.token_urlsafe(32)
        with self.writing() as (session, head):
            tok = self._token(session, token_id)
            now = datetime.now(UTC)
            if (idempotency_key is not None and tok.rotation_key == idempotency_key
                    and tok.rotation_secret is not None and tok.rotated_at is not None
                    and _before(_aware(tok.rotated_at) + RETRY_WINDOW)):
                again: str = self._keys().decrypt(tok.rotation_secret, what=f"token '{token_id}'")
                return again
            check_version("api_token", token_id, tok, version, False)
            if tok.revoked:
                raise CredentialError(f"API token '{token_id}' is revoked",
                                      fix="create a new token instead")
            tok.previous_hash, tok.token_hash = tok.token_hash, _hash_token(secret)
            tok.previous_expires_at, tok.rotated_at = now + grace, now
            tok.rotation_key = idempotency_key
            tok.rotation_secret = (self._keys().encrypt(secret) if idempotency_key is not None
                                   else None)
            session.flush()
            record(session, head, actor=actor, action="rotate", target_type="api_token",
                   target_key=token_id, before=None,
                   after={"grace_until": tok.previous_expires_at}, request_id=request_id)
        return secret

    def token_status(self, token_id: str) -> dict[str, Any]:
        """What an operator may read of a token: never its hash or secret."""
        with self.reading() as session:
            tok = self._token(session, token_id)
            return {
                "token_id": tok.token_id, "user": tok.user.name, "role": tok.user.role,
                "version": tok.version, "created_at": tok.created_at,
                "expires_at": tok.expires_at, "revoked": tok.revoked,
                "rotated_at": tok.rotated_at,
                "previous_valid_until": (tok.previous_expires_at
                                         if _before(tok.previous_expires_at) else None),
            }

    @staticmethod
    def _token(session: Any, token_id: str) -> ApiToken:
        tok: ApiToken | None = session.execute(
            select(ApiToken).where(ApiToken.token_id == token_id)).scalar_one_or_none()
        if tok is None:
            raise CredentialError(f"no API token '{token_id}'", fix="list the tokens")
        return tok

    def revoke_token(self, token_id: str, *, version: int | None, actor: str) -> None:
        with self.writing() as (session, head):
            tok = session.execute(
                select(ApiToken).where(ApiToken.token_id == token_id)
            ).scalar_one_or_none()
            if tok is None:
                raise CredentialError(f"no API token '{token_id}'", fix="list the tokens")
            check_version("api_token", token_id, tok, version, False)
            tok.revoked = True
            session.flush()
            record(session, head, actor=actor, action="revoke", target_type="api_token",
                   target_key=token_id, before=None, after={"revoked": True})
