from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "support"))

import echo_provider
from sleep_recorder import SleepRecorder

from polyroute.plugins import PluginRegistry
from polyroute.testing.standin import StandinServer


def pytest_configure(config: pytest.Config) -> None:
    # CPython 3.11's import machinery fails with KeyError(<thread id>) when a garbage
    # collector finalizer imports something while another import holds its module
    # lock (python/cpython#91351, fixed in 3.12). Tests make plenty of such garbage,
    # so a big package first imported mid-test can trip it: redis pulls in
    # opentelemetry's SDK on its first import. Imported here, in each process
    # (pytest-xdist workers too) before any test runs, that never happens mid-test.
    import contextlib
    import importlib

    for heavy in ("redis", "redis.cluster", "opentelemetry.sdk.metrics"):
        with contextlib.suppress(ImportError):  # absent: the tests needing it skip
            importlib.import_module(heavy)


@pytest.fixture(autouse=True)
def _no_terminal_size(monkeypatch: pytest.MonkeyPatch) -> None:
    # The CLI sizes its tables from COLUMNS (pytest-xdist's workers set 80, a caller's
    # shell may set anything): tests read the unwrapped, piped layout.
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.delenv("LINES", raising=False)


@pytest.fixture(scope="session")
def echo_registry() -> PluginRegistry:
    """Only the test echo provider: core tests depend on no first-party plugin."""
    return PluginRegistry.create(load_entrypoints=False, plugins=[echo_provider])


@pytest.fixture
def primary() -> Iterator[StandinServer]:
    with StandinServer(echo_provider.EchoResponder("primary")) as server:
        yield server


@pytest.fixture
def secondary() -> Iterator[StandinServer]:
    with StandinServer(echo_provider.EchoResponder("secondary")) as server:
        yield server


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


REDIS_URL_ENV = "POLYROUTE_TEST_REDIS_URL"


@pytest.fixture
def redis_url() -> Iterator[tuple[str, str]]:
    """``(url, key prefix)`` of a reachable Redis, or the test is skipped with the reason.

    ``.ci/run`` starts the machine's redis-server when it is installed and not
    running; elsewhere set POLYROUTE_TEST_REDIS_URL. Keys get a prefix of their own,
    deleted after the test.
    """
    import os
    import uuid

    redis = pytest.importorskip("redis")
    url = os.environ.get(REDIS_URL_ENV, "redis://127.0.0.1:6379/15")
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        pytest.skip(f"no Redis server at {url} ({type(exc).__name__}); start redis-server "
                    f"or set {REDIS_URL_ENV}")
    prefix = f"polyroute-test-{uuid.uuid4().hex[:12]}:"
    try:
        yield url, prefix
    finally:
        for key in client.scan_iter(match=prefix + "*"):
            client.delete(key)
        client.close()


@pytest.fixture
def pg_ledger_url() -> Iterator[str]:
    """A PostgreSQL URL whose search path is a throwaway schema (dropped after the
    test) on the machine's server (127.0.0.1:5432, user postgres, db test); skips,
    saying why, without it."""
    import uuid

    psycopg = pytest.importorskip("psycopg", reason="PostgreSQL tests need polyroute[postgres]")
    try:
        admin = psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test "
                                "connect_timeout=3", autocommit=True)
    except Exception as exc:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432 ({type(exc).__name__})")
    schema = f"ledger_{uuid.uuid4().hex[:10]}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()
