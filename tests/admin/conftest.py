"""Registry fixtures: every test runs on SQLite and on the machine's PostgreSQL.

PostgreSQL tests get a throwaway schema per test in the ``test`` database,
migrated from empty and dropped at the end. Without a reachable
server at 127.0.0.1:5432 they skip, saying so.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

pytest.importorskip("sqlalchemy", reason="the registry tests need polyroute[admin]")

from cryptography.fernet import Fernet

from polyroute.admin import KeyRing, Registry, upgrade_to_head

PG_ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test connect_timeout=3"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{db}"


def _pg_admin():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(PG_ADMIN, autocommit=True)


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[object]:
    """An autocommit connection to the test database (skips without PostgreSQL)."""
    try:
        conn = _pg_admin()
    except Exception as exc:  # any failure to connect means: no server here
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432 as postgres ({exc!s:.120}); "
                    "start it (.ci/run does) to run the PostgreSQL registry tests")
    yield conn
    conn.close()


@dataclass
class Db:
    kind: str
    url: str
    path: str | None = None  # the SQLite file

    def registry(self, key: str | None = None) -> Registry:
        reg = Registry(self.url)
        reg.keyring = KeyRing([key or KEY])
        return reg


KEY = Fernet.generate_key().decode()


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Db]:
    """A migrated, empty registry on SQLite or PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("reg") / "registry.db"
        url = f"sqlite:///{path}"
        upgrade_to_head(url)
        yield Db("sqlite", url, str(path))
        return
    yield from _pg_db(request)


def _pg_db(request: pytest.FixtureRequest) -> Iterator[Db]:
    # a throwaway schema per test (much cheaper than a database), dropped after it
    conn = request.getfixturevalue("pg_admin")
    schema = f"prt_{uuid.uuid4().hex[:12]}"
    conn.execute(f'CREATE SCHEMA "{schema}"')
    url = PG_URL.format(db="test") + f"?options=-csearch_path%3D{schema}"
    upgrade_to_head(url)
    try:
        yield Db("postgresql", url)
    finally:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_db(request: pytest.FixtureRequest) -> Iterator[Db]:
    """PostgreSQL only (skips without it): for tests that mean PostgreSQL."""
    yield from _pg_db(request)


@pytest.fixture
def reg(db: Db) -> Iterator[Registry]:
    registry = db.registry()
    yield registry
    registry.close()


@pytest.fixture
def sqlite_reg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """SQLite only: for checks made before any SQL runs (validation), kept cheap."""
    url = f"sqlite:///{tmp_path_factory.mktemp('reg') / 'registry.db'}"
    upgrade_to_head(url)
    registry = Db("sqlite", url).registry()
    yield registry
    registry.close()
