"""``polyroute serve``: zero set-up on SQLite, the first admin token, the schema check,
and no listening on a non-loopback address before admin authentication exists."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from polyroute.admin import upgrade_to_head
from polyroute.cli import main


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh user: no registry, no key, no token file; uvicorn never really starts."""
    for var in ("POLYROUTE_REGISTRY_URL", "POLYROUTE_ADMIN_KEY", "POLYROUTE_ADMIN_KEYS",
                "POLYROUTE_ADMIN_KEY_FILE", "POLYROUTE_ADMIN_TOKEN_FILE",
                "POLYROUTE_CONFIG", "POLYROUTE_ADMIN_ALLOW_PRIVATE_ENDPOINTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def fake_run(app: Any, **kwargs: Any) -> None:
        calls.append({"app": app, **kwargs})

    monkeypatch.setattr("uvicorn.run", fake_run)
    return calls


def run(*args: str) -> Any:
    return CliRunner().invoke(main, ["serve", *args])


def test_first_run_needs_no_set_up(home: Path, served: list[dict[str, Any]]) -> None:
    result = run()
    assert result.exit_code == 0, result.output
    token_file = home / "config" / "polyroute" / "admin-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((home / "config" / "polyroute" / "admin.key").stat().st_mode) == 0o600
    assert (home / "data" / "polyroute" / "registry.db").exists()
    token = token_file.read_text().strip()
    assert token not in result.output  # written to the owner-only file, never printed
    assert str(token_file) in result.output
    (call,) = served
    assert (call["host"], call["port"], call["access_log"]) == ("127.0.0.1", 8765, False)
    assert "polyroute.admin.api" in call["log_config"]["loggers"]
    client = TestClient(call["app"])
    r = client.get("/api/admin/providers", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["total"] == 0
    assert client.get("/openapi.json").status_code == 200

    again = run()  # a second start: no new user, no new token file needed
    assert again.exit_code == 0 and "first run" not in again.output


def test_non_loopback_is_refused_until_an_admin_token_exists(
        home: Path, served: list[dict[str, Any]]) -> None:
    result = run("--host", "0.0.0.0")
    assert result.exit_code == 2
    assert "refusing to listen on 0.0.0.0" in result.output
    assert "--init-only" in result.output and served == []
    init = run("--init-only")
    assert init.exit_code == 0 and served == []
    result = run("--host", "0.0.0.0", "--port", "9000")
    assert result.exit_code == 0, result.output
    assert served[0]["host"] == "0.0.0.0"


def test_non_loopback_is_refused_when_every_admin_token_is_revoked(
        home: Path, served: list[dict[str, Any]]) -> None:
    from polyroute.admin import Registry, default_url

    assert run("--init-only").exit_code == 0
    reg = Registry(default_url())
    from polyroute.admin.models import ApiToken

    with reg.reading() as session:
        from sqlalchemy import select

        tok = session.execute(select(ApiToken)).scalar_one()
    reg.revoke_token(tok.token_id, version=tok.version, actor="t")
    reg.close()
    result = run("--host", "192.0.2.10")
    assert result.exit_code == 2 and "no admin has an active API token" in result.output
    assert run("--host", "::1").exit_code == 0  # loopback stays available


def test_a_schema_behind_or_ahead_is_refused_with_the_command(
        home: Path, served: list[dict[str, Any]], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade_to_head(url)
    import sqlite3

    con = sqlite3.connect(tmp_path / "old.db")
    con.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")
    con.commit()
    con.close()
    result = run("--registry", url)
    assert result.exit_code == 2 and served == []
    assert "ahead" in result.output and result.output.count("error:") == 1


def test_a_token_file_left_over_is_not_overwritten(home: Path,
                                                   served: list[dict[str, Any]]) -> None:
    stale = home / "stale-token"
    stale.write_text("old\n")
    result = run("--bootstrap-token-file", str(stale))
    assert result.exit_code == 2 and "exists" in result.output
    assert stale.read_text() == "old\n"
