"""Credentials: encrypted at rest, write-only, rotated without a failed read."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from polyroute.admin import (
    KeyRing,
    MaskedSecretError,
    Registry,
    RegistryKeyError,
    RegistryValidationError,
    VersionConflictError,
    write_key_file,
)
from polyroute.admin.models import AuditRow, Credential
from tests.admin.conftest import KEY, Db

SECRET = "sk-live-Zq8vN2xR7pL4tK9wB3mY6cH1"


def test_stored_encrypted_shown_masked_revealed_on_demand(reg: Registry) -> None:
    row = reg.put_credential("acme", SECRET, actor="alice")
    assert row.last_four == SECRET[-4:]
    assert reg.masked_credential("acme") == "****" + SECRET[-4:]
    assert reg.reveal_credential("acme") == SECRET
    with reg.reading() as s:
        stored = s.execute(select(Credential)).scalar_one()
        assert SECRET.encode() not in stored.ciphertext
        assert SECRET not in repr(stored) and stored.last_four == SECRET[-4:]
    short = reg.put_credential("tiny", "abc123", actor="alice")
    assert short.last_four == "" and reg.masked_credential("tiny") == "****"


@pytest.mark.parametrize("masked", [
    "****" + SECRET[-4:], "sk-l…BcH1", "azur****BBCC", "••••••••", "sk-...wxyz", "[REDACTED]",
])
def test_a_value_shaped_like_a_mask_is_refused(sqlite_reg: Registry, masked: str) -> None:
    reg = sqlite_reg
    reg.put_credential("acme", SECRET, actor="alice")
    with pytest.raises(MaskedSecretError) as info:
        reg.put_credential("acme", masked, actor="alice", version=1)
    assert info.value.field == "credentials.acme.value"
    assert reg.reveal_credential("acme") == SECRET  # the real key is untouched
    # the round trip: what the display shows cannot be written back
    with pytest.raises(MaskedSecretError):
        reg.put_credential("acme", reg.masked_credential("acme"), actor="a", version=1)


def test_replacing_needs_the_version(reg: Registry) -> None:
    reg.put_credential("acme", SECRET, actor="alice")
    with pytest.raises(RegistryValidationError, match="exists"):
        reg.put_credential("acme", SECRET + "2", actor="alice")
    reg.put_credential("acme", SECRET + "2", actor="alice", version=1)
    with pytest.raises(VersionConflictError):
        reg.put_credential("acme", SECRET + "3", actor="alice", version=1)
    assert reg.reveal_credential("acme") == SECRET + "2"


def test_env_references_stay_references(reg: Registry) -> None:
    reg.put_credential("ref", "env:ACME_API_KEY", actor="a")
    assert reg.reveal_credential("ref") == "env:ACME_API_KEY"


def test_rotation_reencrypts_every_row_and_old_key_reads_until_done(db: Db) -> None:
    old, new = KEY, Fernet.generate_key().decode()
    reg = db.registry(old)
    values = {f"c{i}": f"{SECRET}-{i}" for i in range(5)}
    for name, value in values.items():
        reg.put_credential(name, value, actor="alice")
    reg.keyring = KeyRing([new, old])  # the new key first: it encrypts, both decrypt
    reader_old = db.registry(old)
    seen: list[str] = []
    real_rotate = reg.keyring.rotate

    def rotate_then_read(token: bytes, *, what: str = "credential") -> bytes:
        # a reader still on the old ring is served while rotation is under way
        seen.append(reader_old.reveal_credential("c4"))
        return real_rotate(token, what=what)

    reg.keyring.rotate = rotate_then_read  # type: ignore[method-assign]
    assert reg.rotate_keys(actor="ops", batch=2) == 5
    # a read during each of the 5 re-encryptions (c4's own batch included) got the value
    assert seen == [values["c4"]] * 5
    only_new = db.registry(new)
    assert {n: only_new.reveal_credential(n) for n in values} == values
    with pytest.raises(RegistryKeyError) as info:
        reader_old.reveal_credential("c0")
    assert SECRET not in str(info.value) and old not in str(info.value)
    assert reg.verify_chain().ok
    for r in (reg, reader_old, only_new):
        r.close()


def test_the_secret_never_reaches_file_audit_logs_or_reprs(
    db: Db, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    reg = db.registry()
    reg.create("provider", {"identifier": "acme", "name": "Acme", "provider_type": "openai",
                            "auth_config": {"credential": "acme"}}, actor="alice")
    reg.put_credential("acme", SECRET, actor="alice")
    reg.put_credential("acme", SECRET + "X", actor="alice", version=1)
    with pytest.raises(MaskedSecretError) as refused:
        reg.put_credential("acme", "****" + SECRET[-4:], actor="a", version=2)
    from polyroute.admin import registry_config

    config = registry_config(reg)
    with reg.reading() as s:
        bodies = [r.body for r in s.execute(select(AuditRow)).scalars()]
        cred = s.execute(select(Credential)).scalar_one()
    texts = [*bodies, repr(cred), repr(reg.keyring), repr(config), repr(config.providers),
             str(refused.value), caplog.text]
    for t in texts:
        assert SECRET not in t and SECRET[:-4] not in t and KEY not in t
    assert any("****" in b for b in bodies)
    if db.path:
        raw = b"".join(Path(p).read_bytes() for p in (db.path, db.path + "-wal")
                       if os.path.exists(p))
        assert SECRET.encode() not in raw and SECRET[:-4].encode() not in raw
        assert os.stat(db.path).st_mode & 0o077 == 0  # owner-only
    reg.close()


def test_key_sources_and_their_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    k1, k2 = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    ring = KeyRing.from_env({"POLYROUTE_ADMIN_KEYS": f"{k1},{k2}"})
    assert ring.count == 2 and k1 not in repr(ring)
    assert KeyRing.from_env({"POLYROUTE_ADMIN_KEY": k1}).decrypt(ring.encrypt("x")) == "x"
    path = write_key_file(tmp_path / "keys" / "admin.key")
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert KeyRing.from_env({"POLYROUTE_ADMIN_KEY_FILE": str(path)}).count == 1
    os.chmod(path, 0o644)
    with pytest.raises(RegistryKeyError, match=r"readable by others.*chmod 600"):
        KeyRing.from_env({"POLYROUTE_ADMIN_KEY_FILE": str(path)})
    with pytest.raises(RegistryKeyError, match="does not exist"):
        KeyRing.from_env({"POLYROUTE_ADMIN_KEY_FILE": str(tmp_path / "none")})
    bad = "not-a-fernet-key-but-a-secret-1234567"
    with pytest.raises(RegistryKeyError, match="key #1") as info:
        KeyRing.from_env({"POLYROUTE_ADMIN_KEY": bad})
    assert bad not in str(info.value)
