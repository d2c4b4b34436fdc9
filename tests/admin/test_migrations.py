"""Migrations from empty, down and up again, and the schema-revision check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import inspect, text

from polyroute.admin import (
    Registry,
    RegistryError,
    SchemaRevisionError,
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
    assert set(inspect(engine).get_table_names()) >= TABLES
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


def test_a_registry_behind_is_refused_with_the_command(
    db: Db, monkeypatch: pytest.MonkeyPatch
) -> None:
    # until revision 0002 exists: pretend this polyroute's head is one past the DB's
    monkeypatch.setattr(admin_db, "head_revision", lambda: "0002")
    with pytest.raises(SchemaRevisionError) as info:
        Registry(db.url)
    msg = str(info.value)
    assert "at revision 0001, behind" in msg and "python -m polyroute.admin upgrade" in msg


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
    assert out.returncode == 0 and "at revision 0001" in out.stdout, out.stderr
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
