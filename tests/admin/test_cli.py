"""``polyroute admin|keys|registry``: what an operator types, sees and gets back."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from alembic import command
from click.testing import CliRunner, Result
from cryptography.fernet import Fernet
from sqlalchemy import text

from polyroute.admin import KeyRing, Registry, upgrade_to_head
from polyroute.admin.db import _alembic_config, head_revision, make_engine
from polyroute.cli import main
from tests.admin import conftest
from tests.admin.conftest import Db

SECRET = "sk-live-Q7wE3rT9yU1iO5pA2sD8fG4h"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYROUTE_ADMIN_KEY", conftest.KEY)
    monkeypatch.delenv("POLYROUTE_ADMIN_KEYS", raising=False)


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def _fill(reg: Registry) -> None:
    reg.put_credential("acme-key", SECRET, actor="a")
    reg.put_credential("beta-ref", "env:BETA_KEY", actor="a")
    reg.create("provider", {
        "identifier": "acme", "name": "Acme", "provider_type": "openai",
        "api_endpoint": "https://api.acme.example/v1",
        "auth_config": {"credential": "acme-key",
                        "headers": {"Authorization": "Bearer {{apiKey}}"}},
    }, actor="a")
    reg.add_model("acme", {"name": "large", "context_length": 128000, "is_default": True,
                           "pricing_info": {"input": 2.0, "output": 8.0}}, actor="a")
    reg.add_model("acme", {"name": "free", "pricing_info": {"input": 0.0, "output": 0.0}},
                  actor="a")
    reg.create("provider", {"identifier": "beta", "name": "Beta", "provider_type": "openai",
                            "auth_config": {"credential": "beta-ref"}, "status": "testing"},
               actor="a")
    reg.create("template", {"identifier": "tpl", "name": "Tpl",
                            "provider_config": {"type": "openai"}}, actor="a")
    reg.create("route", {"name": "main", "tiers": [["acme:large"], ["acme:free"]]}, actor="a")
    reg.create("agent", {"name": "swe", "route": "main", "params": {"temperature": 0.2}},
               actor="a")
    reg.create("budget", {"name": "daily", "usd": 5.0, "scope": "provider:acme"}, actor="a")


# --- admin db ---------------------------------------------------------------------------


def test_db_upgrade_backs_up_a_sqlite_file_first_and_says_where(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    out = run("admin", "db", "upgrade", "--registry", url)
    assert out.exit_code == 0 and f"empty -> revision {head_revision()}" in out.output
    assert "backed up" not in out.output  # nothing to back up yet
    assert "already at revision" in run("admin", "db", "upgrade", "--registry", url).output
    engine = make_engine(url)
    command.downgrade(_alembic_config(engine), "-1")  # as an older polyroute left it
    engine.dispose()
    out = run("admin", "db", "upgrade", "--registry", url)
    assert out.exit_code == 0, out.output
    backups = list(tmp_path.glob("registry.db.*.bak"))
    assert len(backups) == 1 and str(backups[0]) in out.output
    assert os.stat(backups[0]).st_mode & 0o077 == 0
    with sqlite3.connect(backups[0]) as conn:
        assert conn.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)


def test_db_upgrade_on_postgresql_says_how_to_back_up(pg_db: Db) -> None:
    out = run("admin", "db", "upgrade", "--registry", pg_db.url)
    assert out.exit_code == 0 and "already at revision" in out.output
    engine = make_engine(pg_db.url)
    command.downgrade(_alembic_config(engine), "0001")  # as the first release left it
    engine.dispose()
    out = run("admin", "db", "upgrade", "--registry", pg_db.url, input="n\n")
    assert out.exit_code == 1 and "pg_dump --format=custom" in out.output  # asked, declined
    assert "Aborted" in out.output
    out = run("admin", "db", "upgrade", "--yes", "--registry", pg_db.url)
    assert out.exit_code == 0 and f"0001 -> revision {head_revision()}" in out.output


def test_db_check_names_the_command_when_behind_or_empty(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    out = run("admin", "db", "check", "--registry", url)
    assert out.exit_code == 2
    assert "no polyroute schema" in out.output and "polyroute admin db upgrade" in out.output
    assert "Traceback" not in out.output
    upgrade_to_head(url)
    out = run("admin", "db", "check", "--registry", url)
    assert out.exit_code == 0 and "(current)" in out.output


def test_an_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    url = "postgresql+psycopg://u:hunter2pass@127.0.0.1:1/db?connect_timeout=2"
    (tmp_path / "r.yaml").write_text("{}")
    for args in (("admin", "db", "check"), ("admin", "db", "upgrade"),
                 ("admin", "audit", "verify"), ("admin", "audit", "export"),
                 ("admin", "token", "create", "--user", "u", "--role", "viewer"),
                 ("admin", "token", "rotate", "tok_x"), ("registry", "export"),
                 ("registry", "plan", str(tmp_path / "r.yaml")),
                 ("registry", "apply", str(tmp_path / "r.yaml")), ("keys", "rotate"),
                 ("keys", "set", "k")):
        out = run(*args, "--registry", url)
        assert out.exit_code in (1, 2), (args, out.output)
        assert "hunter2pass" not in out.output and "Traceback" not in out.output
        assert "fix:" in out.output


# --- admin audit ------------------------------------------------------------------------


def test_audit_verify_names_the_first_bad_row_and_export_writes_json_lines(
    db: Db, tmp_path: Path,
) -> None:
    reg = db.registry()
    _fill(reg)
    out = run("admin", "audit", "verify", "--registry", db.url)
    assert out.exit_code == 0 and "audit chain intact" in out.output
    target = tmp_path / "audit.jsonl"
    out = run("admin", "audit", "export", str(target), "--registry", db.url)
    assert out.exit_code == 0
    lines = [json.loads(ln) for ln in target.read_text().splitlines()]
    assert [ln["seq"] for ln in lines] == list(range(1, len(lines) + 1))
    assert SECRET not in target.read_text()
    out = run("admin", "audit", "export", "--after", "3", "--registry", db.url)
    assert json.loads(out.stdout.splitlines()[0])["seq"] == 4
    with reg.sessions() as s:
        s.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"))
        s.commit()
    out = run("admin", "audit", "verify", "--registry", db.url)
    assert out.exit_code == 1 and "broken at row 3: changed" in out.output
    reg.close()


# --- admin token --------------------------------------------------------------------------


def test_token_create_shows_the_secret_once_and_it_authenticates(sqlite_reg: Registry) -> None:
    url = str(sqlite_reg.sessions.kw["bind"].url)
    out = run("admin", "token", "create", "--user", "ops", "--role", "operator",
              "--expires", "30d", "--registry", url)
    assert out.exit_code == 0, out.output
    secret = next(ln.split()[-1] for ln in out.stdout.splitlines() if ln.startswith("secret:"))
    user = sqlite_reg.authenticate(secret)
    assert user is not None and (user.name, user.role) == ("ops", "operator")
    out = run("admin", "token", "create", "--user", "ops", "--role", "admin", "--registry", url)
    assert out.exit_code == 1 and "has role operator, not admin" in out.output
    for bad in ("yesterday", "2001-01-01"):
        out = run("admin", "token", "create", "--user", "ops", "--role", "operator",
                  "--expires", bad, "--registry", url)
        assert out.exit_code == 2 and "--expires" in out.output and "Traceback" not in out.output


def test_token_rotate_keeps_the_id_and_the_old_secret_for_the_grace(
    sqlite_reg: Registry,
) -> None:
    url = str(sqlite_reg.sessions.kw["bind"].url)
    out = run("admin", "token", "create", "--user", "ops", "--role", "admin", "--registry", url)

    def field(text: str, name: str) -> str:
        return next(ln.split(":", 1)[1].split()[0] for ln in text.splitlines()
                    if ln.startswith(name))

    token_id, old = field(out.stdout, "token id:"), field(out.stdout, "secret:")
    out = run("admin", "token", "rotate", token_id, "--grace", "2h", "--registry", url)
    assert out.exit_code == 0 and field(out.stdout, "token id:") == token_id
    new = field(out.stdout, "secret:")
    assert sqlite_reg.authenticate(new) and sqlite_reg.authenticate(old)
    out = run("admin", "token", "rotate", token_id, "--grace", "0", "--registry", url)
    assert sqlite_reg.authenticate(old) is None and sqlite_reg.authenticate(new) is None
    for args, expect in ((("tok_nope",), "no API token 'tok_nope'"),
                         ((token_id, "--grace", "soon"), "not a duration")):
        out = run("admin", "token", "rotate", *args, "--registry", url)
        assert out.exit_code in (1, 2) and expect in out.output and "Traceback" not in out.output


# --- keys ---------------------------------------------------------------------------------


def test_keys_rotate_reencrypts_every_credential_under_the_new_key(
    db: Db, monkeypatch: pytest.MonkeyPatch,
) -> None:
    reg = db.registry()
    _fill(reg)
    reg.create("user", {"name": "ops", "role": "admin"}, actor="a")
    token_id, _ = reg.create_token("ops", actor="a")
    kept = reg.rotate_token(token_id, version=1, actor="a", idempotency_key="retry-me")
    new = Fernet.generate_key().decode()
    monkeypatch.setenv("POLYROUTE_ADMIN_KEYS", f"{new},{conftest.KEY}")
    out = run("keys", "rotate", "--batch", "1", "--registry", db.url)
    assert out.exit_code == 0 and "re-encrypted 2 credential(s)" in out.output, out.output
    reg.keyring = KeyRing([new])  # the old key is gone: everything still reads
    assert reg.reveal_credential("acme-key") == SECRET
    assert reg.rotate_token(token_id, version=2, actor="a", idempotency_key="retry-me") == kept
    reg.keyring = KeyRing([conftest.KEY])
    with pytest.raises(Exception, match="cannot be decrypted"):
        reg.reveal_credential("acme-key")
    reg.close()


def test_keys_rotate_without_any_key_says_how_to_make_one(
    sqlite_reg: Registry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.delenv("POLYROUTE_ADMIN_KEY")
    monkeypatch.setenv("POLYROUTE_ADMIN_KEY_FILE", str(tmp_path / "none.key"))
    url = str(sqlite_reg.sessions.kw["bind"].url)
    out = run("keys", "rotate", "--registry", url)
    assert out.exit_code == 2 and "does not exist" in out.output and "fix:" in out.output


def test_keys_add_puts_a_new_key_first_in_an_owner_only_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "admin.key"
    assert run("keys", "add", "--file", str(path)).exit_code == 0
    first = path.read_text().split()
    out = run("keys", "add", "--file", str(path))
    assert out.exit_code == 0 and "2 key(s)" in out.output
    keys = path.read_text().split()
    assert keys[1:] == first and os.stat(path).st_mode & 0o077 == 0
    assert keys[0] not in out.output  # never printed unless asked
    os.chmod(path, 0o644)
    out = run("keys", "add", "--file", str(path))
    assert out.exit_code == 2 and "chmod 600" in out.output


def test_keys_set_stores_a_secret_without_echoing_it(sqlite_reg: Registry) -> None:
    url = str(sqlite_reg.sessions.kw["bind"].url)
    out = run("keys", "set", "acme-key", "--registry", url, input=SECRET + "\n")
    assert out.exit_code == 0 and SECRET not in out.output and "****fG4h" in out.output
    assert sqlite_reg.reveal_credential("acme-key") == SECRET
    out = run("keys", "set", "acme-key", "--registry", url, input="****fG4h\n")
    assert out.exit_code == 2 and "masked secret" in out.output
    assert sqlite_reg.reveal_credential("acme-key") == SECRET


# --- registry as code ----------------------------------------------------------------------


def _export(url: str, path: Path) -> str:
    out = run("registry", "export", str(path), "--registry", url)
    assert out.exit_code == 0, out.output
    return path.read_text()


def test_export_apply_on_an_empty_registry_export_gives_the_same_file(
    db: Db, tmp_path: Path, request: pytest.FixtureRequest,
) -> None:
    src = db.registry()
    _fill(src)
    first = _export(db.url, tmp_path / "reg.yaml")
    assert SECRET not in first and "****fG4h" in first and "env:BETA_KEY" in first
    doc = yaml.safe_load(first)
    assert doc["providers"]["acme"]["models"]["free"]["pricing_info"] == {
        "input": 0.0, "output": 0.0}
    # a second, empty registry of the same kind
    other = (f"sqlite:///{tmp_path / 'other.db'}" if db.kind == "sqlite"
             else request.getfixturevalue("pg_db").url)
    upgrade_to_head(other)
    out = run("registry", "apply", str(tmp_path / "reg.yaml"), "--registry", other)
    assert out.exit_code == 1 and "acme-key" in out.output and "keys set" in out.output
    assert run("keys", "set", "acme-key", "--registry", other, input=SECRET + "\n"
               ).exit_code == 0
    plan = run("registry", "plan", str(tmp_path / "reg.yaml"), "--registry", other)
    assert plan.exit_code == 0 and "+ provider acme" in plan.output
    assert "+ model acme:large" in plan.output and "+ credential beta-ref" in plan.output
    fp = plan.output.split("Registry fingerprint: ")[1].split()[0]
    out = run("registry", "apply", str(tmp_path / "reg.yaml"), "--fingerprint", fp,
              "--registry", other)
    assert out.exit_code == 0, out.output
    assert _export(other, tmp_path / "again.yaml") == first
    plan = run("registry", "plan", str(tmp_path / "reg.yaml"), "--registry", other)
    assert "Plan: 0 to create, 0 to change, 0 to delete" in plan.output
    reg2 = Registry(other)
    reg2.keyring = KeyRing([conftest.KEY])
    assert reg2.verify_chain().ok and reg2.reveal_credential("acme-key") == SECRET
    reg2.close()
    src.close()


def test_apply_refuses_when_the_registry_changed_since_the_plan(
    sqlite_reg: Registry, tmp_path: Path,
) -> None:
    url = str(sqlite_reg.sessions.kw["bind"].url)
    _fill(sqlite_reg)
    path = tmp_path / "reg.yaml"
    doc = yaml.safe_load(_export(url, path))
    doc["budgets"]["daily"]["usd"] = 9.0
    del doc["agents"]["swe"]
    doc["routes"]["spare"] = {"strategy": "priority", "params": {}, "status": "active",
                              "tiers": [["acme:free"]]}
    path.write_text(yaml.safe_dump(doc))
    plan = run("registry", "plan", str(path), "--registry", url)
    assert "~ budget daily (usd)" in plan.output and "- agent swe" in plan.output
    assert "+ route spare" in plan.output and "1 to create, 1 to change, 1 to delete" in plan.output
    fp = plan.output.split("Registry fingerprint: ")[1].split()[0]
    row = sqlite_reg.get("budget", "daily")  # someone else changes it through the API
    sqlite_reg.update("budget", "daily", {"usd": 6.0}, version=row.version, actor="bob")
    rows_before = sqlite_reg.verify_chain().rows
    out = run("registry", "apply", str(path), "--fingerprint", fp, "--registry", url)
    assert out.exit_code == 1 and "changed since the plan" in out.output
    assert "nothing was applied" in out.output and "Traceback" not in out.output
    assert sqlite_reg.get("budget", "daily").usd == 6.0
    assert sqlite_reg.verify_chain().rows == rows_before
    plan = run("registry", "plan", str(path), "--registry", url)
    fp = plan.output.split("Registry fingerprint: ")[1].split()[0]
    out = run("registry", "apply", str(path), "--fingerprint", fp, "--registry", url)
    assert out.exit_code == 0 and "Applied: 1 to create, 1 to change, 1 to delete" in out.output
    assert sqlite_reg.get("budget", "daily").usd == 9.0
    assert sqlite_reg.verify_chain().ok


@pytest.mark.parametrize(("doc", "expect"), [
    ("- just a list", "must be a mapping of sections"),
    ("providers: {acme: {nme: x}}", "'nme' is not a field of providers"),
    ("widgets: {}", "unknown section(s): widgets"),
    (f"credentials: {{k: {SECRET}}}", "holds a value, not an env:NAME reference"),
    ("providers: {acme: {name: A, provider_type: openai, status: lively}}", "lively"),
    ("providers: {acme: {name: [unclosed", "not valid YAML"),
])
def test_a_bad_file_gets_a_clear_message_and_changes_nothing(
    sqlite_reg: Registry, tmp_path: Path, doc: str, expect: str,
) -> None:
    url = str(sqlite_reg.sessions.kw["bind"].url)
    path = tmp_path / "bad.yaml"
    path.write_text(doc)
    for cmd in ("plan", "apply"):
        out = run("registry", cmd, str(path), "--registry", url)
        if cmd == "plan" and "lively" in doc:  # the shape is fine; the write refuses it
            continue
        assert out.exit_code == 2, (cmd, out.output)
        assert expect in out.output and "Traceback" not in out.output
        assert SECRET not in out.output
    assert sqlite_reg.verify_chain().rows == 0


def test_a_missing_file_and_a_system_entry_are_clear_errors(
    sqlite_reg: Registry, tmp_path: Path, echo_registry: Any,
) -> None:
    from polyroute.admin import sync_system_entries
    from polyroute.config.loader import config_from_data

    url = str(sqlite_reg.sessions.kw["bind"].url)
    out = run("registry", "plan", str(tmp_path / "nope.yaml"), "--registry", url)
    assert out.exit_code == 2 and "cannot read" in out.output
    sync_system_entries(sqlite_reg, config_from_data(
        {"providers": {"filep": {"type": "echo", "api_key": "env:K"}}}, file="polyroute.yaml"))
    path = tmp_path / "sys.yaml"
    path.write_text("providers: {filep: {name: x}}")
    out = run("registry", "plan", str(path), "--registry", url)
    assert out.exit_code == 1 and "system entry (from polyroute.yaml)" in out.output


def test_without_the_admin_extra_the_commands_name_it(monkeypatch: pytest.MonkeyPatch) -> None:
    for mod in [m for m in sys.modules if m == "polyroute.admin" or m.startswith(
            ("polyroute.admin.", "sqlalchemy"))]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setitem(sys.modules, "sqlalchemy", None)
    out = run("admin", "db", "check", "--registry", "sqlite:///x.db")
    assert out.exit_code == 1 and "pip install 'polyroute[admin]'" in out.output
    assert "Traceback" not in out.output
