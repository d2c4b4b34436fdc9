"""Migrations from empty, down and up again, and the schema-revision check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, text

from polyroute.admin import (
    Registry,
    RegistryError,
    SchemaRevisionError,
    VersionConflictError,
    check_revision,
    make_engine,
    upgrade_to_head,
)
from polyroute.admin import db as admin_db
from tests.admin.conftest import Db

TABLES = {"providers", "models", "provider_templates", "credentials", "routes", "route_tiers",
          "route_tier_members", "agents", "agent_fallbacks", "budgets", "users", "api_tokens",
          "audit_log", "audit_head", "alembic_version"}


def test_upgrade_from_empty_creates_every_table(db: Db) -> None:
    engine = make_engine(db.url)
    assert set(inspect(engine).get_table_names()) >= TABLES | {"pending_changes"}
    assert check_revision(engine) == admin_db.head_revision()
    assert upgrade_to_head(engine) == admin_db.head_revision()  # idempotent
    engine.dispose()


def test_downgrade_to_empty_and_up_again_keeps_working(db: Db) -> None:
    engine = make_engine(db.url)
    command.downgrade(admin_db._alembic_config(engine), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    with pytest.raises(SchemaRevisionError, match=r"no polyroute schema.*python -m polyroute"):
        check_revision(engine)
    upgrade_to_head(engine)
    reg = Registry(db.url)
    reg.create("budget", {"name": "b", "usd": 1.0}, actor="a")
    assert reg.verify_chain().ok
    reg.close()
    engine.dispose()


def test_a_registry_behind_is_refused_with_the_command(db: Db) -> None:
    engine = make_engine(db.url)
    command.downgrade(admin_db._alembic_config(engine), "0001")
    with pytest.raises(SchemaRevisionError) as info:
        Registry(db.url)
    msg = str(info.value)
    assert "at revision 0001, behind" in msg and "polyroute admin db upgrade" in msg
    engine.dispose()


def _revisions() -> list[str]:
    """Every revision this polyroute ships, oldest first."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(admin_db._alembic_config(None))
    return [r.revision for r in reversed(list(scripts.walk_revisions()))]


EARLIER = _revisions()[:-1]


def _columns(engine: Any) -> dict[str, list[str]]:
    insp = inspect(engine)  # read the columns first: on SQLite every connection locks
    return {t: [c["name"] for c in insp.get_columns(t)] for t in sorted(insp.get_table_names())
            if t != "alembic_version"}


def _rows(engine: Any, columns: dict[str, list[str]]) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, in id order, on the given columns (those the older revision has)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with engine.connect() as conn:
        for table, cols in columns.items():
            order = "id" if "id" in cols else cols[0]
            out[table] = [tuple(r) for r in conn.execute(
                text(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {order}"))]
    return out


def _fill(reg: Registry) -> str:
    """A registry with one of everything, as an operator would have it; the token's secret."""
    reg.put_credential("k", "sk-test-Z9xC8vB7nM6aS5dF4gH3", actor="a")
    reg.create("provider", {"identifier": "p", "name": "P", "provider_type": "openai",
                            "auth_config": {"credential": "k"}}, actor="a")
    reg.add_model("p", {"name": "paid", "is_default": True, "context_length": 8192,
                        "pricing_info": {"input": 2.5, "output": 10.0, "cache_read": 0.25}},
                  actor="a")
    reg.add_model("p", {"name": "free", "pricing_info": {"input": 0.0, "output": 0.0}},
                  actor="a")
    reg.create("template", {"identifier": "t", "name": "T",
                            "provider_config": {"type": "openai"}, "default_models": ["x"]},
               actor="a")
    reg.create("route", {"name": "r", "tiers": [["p:paid"], ["p:free"]]}, actor="a")
    reg.create("agent", {"name": "coder", "route": "r"}, actor="a")
    reg.create("budget", {"name": "month", "usd": 25.0}, actor="a")
    reg.create("user", {"name": "ops", "role": "operator"}, actor="a")
    _, secret = reg.create_token("ops", actor="a")
    return secret


@pytest.mark.parametrize("start", EARLIER)
def test_upgrade_from_every_earlier_revision_with_data_keeps_every_row(db: Db, start: str
                                                                       ) -> None:
    """A registry's worth of rows, down to ``start`` (each step down keeps the older
    columns' data), then up to head again: every value of the older schema is unchanged."""
    reg = db.registry()
    secret = _fill(reg)
    reg.close()
    engine = make_engine(db.url)
    cfg = admin_db._alembic_config(engine)
    head_columns = _columns(engine)
    head = _rows(engine, head_columns)
    command.downgrade(cfg, start)
    assert admin_db.current_revision(engine) == start
    old_columns = _columns(engine)
    before = _rows(engine, old_columns)
    # each downgrade dropped only what its revision added: the older columns kept their values
    for table, cols in old_columns.items():
        at = [head_columns[table].index(c) for c in cols]
        assert before[table] == [tuple(r[i] for i in at) for r in head[table]], table
    assert len(before["audit_log"]) == len(head["audit_log"]) == 10
    assert len(before["models"]) == 2
    with pytest.raises(SchemaRevisionError, match=f"at revision {start}, behind"):
        Registry(db.url)
    upgrade_to_head(engine)
    assert admin_db.current_revision(engine) == admin_db.head_revision()
    assert _rows(engine, old_columns) == before
    engine.dispose()
    reg = db.registry()
    assert reg.verify_chain().ok and reg.reveal_credential("k").endswith("gH3")
    prices = {m.name: m.pricing_info for m in reg.list("model")}
    assert prices == {"paid": {"input": 2.5, "output": 10.0, "cache_read": 0.25},
                      "free": {"input": 0.0, "output": 0.0}}
    user = reg.authenticate(secret)
    assert user is not None and user.name == "ops"
    # the schema still enforces what it did: one default model per provider
    with pytest.raises(RegistryError):
        reg.add_model("p", {"name": "second-default", "is_default": True}, actor="a")
    reg.close()


def test_downgrade_one_step_from_head_keeps_the_older_columns(db: Db) -> None:
    reg = db.registry()
    _fill(reg)
    reg.close()
    engine = make_engine(db.url)
    older = _columns(engine)
    command.downgrade(admin_db._alembic_config(engine), "-1")
    kept = _columns(engine)
    assert admin_db.current_revision(engine) == _revisions()[-2]
    after = _rows(engine, kept)
    upgrade_to_head(engine)
    assert _rows(engine, kept) == after and set(_columns(engine)) == set(older)
    engine.dispose()


def test_a_rotated_token_keeps_its_id_and_the_old_secret_works_in_its_grace_window(
    reg: Registry,
) -> None:
    from datetime import timedelta

    reg.create("user", {"name": "ops", "role": "admin"}, actor="a")
    token_id, old = reg.create_token("ops", actor="a")
    new = reg.rotate_token(token_id, version=1, actor="a", grace=timedelta(hours=1))
    assert new != old and reg.authenticate(new) is not None
    assert reg.authenticate(old) is not None  # still inside the grace window
    newer = reg.rotate_token(token_id, version=2, actor="a", grace=timedelta(0))
    assert reg.authenticate(new) is None and reg.authenticate(old) is None
    assert reg.authenticate(newer) is not None
    with pytest.raises(VersionConflictError):
        reg.rotate_token(token_id, version=2, actor="a")
    # a lost response retried with the same Idempotency-Key gets the same secret
    s1 = reg.rotate_token(token_id, version=3, actor="a", idempotency_key="req-1")
    assert reg.rotate_token(token_id, version=3, actor="a", idempotency_key="req-1") == s1
    status = reg.token_status(token_id)
    assert status["version"] == 4 and status["previous_valid_until"] is not None
    assert s1 not in repr(status) and "hash" not in repr(status)
    s2 = reg.rotate_token(token_id, version=4, actor="a", idempotency_key="req-2")
    assert s2 != s1 and reg.authenticate(s2) is not None
    assert reg.verify_chain().ok


def test_a_registry_ahead_is_refused(db: Db) -> None:
    engine = make_engine(db.url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(SchemaRevisionError, match="0099, which this polyroute does not know"):
        check_revision(engine)
    engine.dispose()


def test_an_empty_database_is_refused_until_upgraded(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/new/registry.db"
    with pytest.raises(SchemaRevisionError, match="no polyroute schema") as info:
        Registry(url)
    assert info.value.fix and f"upgrade '{url}'" in info.value.fix
    assert os.stat(tmp_path / "new" / "registry.db").st_mode & 0o077 == 0
    out = subprocess.run([sys.executable, "-m", "polyroute.admin", "upgrade", url],
                         capture_output=True, text=True, timeout=120)
    head = admin_db.head_revision()
    assert out.returncode == 0 and f"at revision {head}" in out.stdout, out.stderr
    out = subprocess.run([sys.executable, "-m", "polyroute.admin", "verify", url],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "audit chain intact: 0 row(s)" in out.stdout
    Registry(url).close()


def test_bad_urls_are_typed() -> None:
    with pytest.raises(RegistryError, match="not a database URL"):
        make_engine("not a url")
    with pytest.raises(RegistryError, match="'mysql' is not supported"):
        make_engine("mysql://u@h/db")


def test_an_unreachable_postgres_is_typed_and_hides_the_password() -> None:
    engine = make_engine("postgresql+psycopg://u:hunter2pass@127.0.0.1:1/db?connect_timeout=2")
    with pytest.raises(RegistryError) as info:
        check_revision(engine)
    assert "hunter2pass" not in str(info.value)


def test_a_table_dropped_by_hand_is_a_typed_error(db: Db) -> None:
    reg = db.registry()
    reg.create("budget", {"name": "b", "usd": 1.0}, actor="a")
    with reg.sessions() as s:
        s.execute(text("DROP TABLE budgets"))
        s.commit()
    for attempt in (lambda: reg.create("budget", {"name": "c", "usd": 1.0}, actor="a"),
                    lambda: reg.list("budget")):
        with pytest.raises(RegistryError, match="does not have the schema"):
            attempt()
    reg.close()


def test_startup_check_refuses_a_schema_behind_and_a_secret_no_key_decrypts(db: Db) -> None:
    from cryptography.fernet import Fernet

    from polyroute.admin import KeyRing, RegistryKeyError, startup_check
    from tests.admin.conftest import KEY

    reg = db.registry()
    reg.put_credential("a", "sk-test-Z9xC8vB7nM6aS5dF4gH3", actor="x")
    reg.put_credential("b", "env:B_KEY", actor="x")
    reg.close()
    ready = startup_check(db.url, keyring=KeyRing([KEY]))
    assert (ready.revision, ready.credentials) == (admin_db.head_revision(), 2)
    with pytest.raises(RegistryKeyError) as info:
        startup_check(db.url, keyring=KeyRing([Fernet.generate_key()]))
    assert "2 stored credential(s) cannot be decrypted" in str(info.value)
    assert "a, b" in str(info.value) and "Z9xC" not in str(info.value)
    engine = make_engine(db.url)
    command.downgrade(admin_db._alembic_config(engine), "-1")
    engine.dispose()
    with pytest.raises(SchemaRevisionError, match=r"behind.*polyroute admin db upgrade"):
        startup_check(db.url, keyring=KeyRing([KEY]))
