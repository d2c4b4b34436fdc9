"""Admin API fixtures: an app over a migrated registry (SQLite or PostgreSQL, from
tests/admin/conftest.py), one token per role, and a DNS table instead of the network."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the admin API tests need polyroute[admin]")
sys.path.insert(0, str(Path(__file__).parent))

from admin_api_support import Api, Dns
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient

from polyroute.admin import KeyRing, Registry, upgrade_to_head
from polyroute.admin.api import AdminSettings, create_app
from polyroute.plugins import PluginRegistry
from polyroute_openai import plugin as openai_plugin


def make_tokens(reg: Registry) -> dict[str, str]:
    tokens = {}
    for role in ("admin", "operator", "viewer"):
        reg.create("user", {"name": f"{role}-user", "role": role}, actor="test")
        tokens[role] = reg.create_token(f"{role}-user", actor="test")[1]
    return tokens


def plugins() -> PluginRegistry:
    return PluginRegistry.create(load_entrypoints=False, plugins=[openai_plugin])


def _make(reg: Registry, **settings: Any) -> Api:
    dns = Dns()
    cfg = AdminSettings(resolver=dns, plugins=plugins(), keyring=reg.keyring,
                        **{"allow_private_endpoints": False, **settings})
    client = TestClient(create_app(registry=reg, settings=cfg), raise_server_exceptions=False)
    return Api(client, reg, cfg, make_tokens(reg), dns)


@pytest.fixture
def make_api() -> Iterator[Callable[..., Api]]:
    made: list[Api] = []

    def make(reg: Registry, **settings: Any) -> Api:
        made.append(_make(reg, **settings))
        return made[-1]

    yield make
    for api in made:
        api.client.close()


@pytest.fixture(scope="module")
def shared_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One SQLite-backed API for a whole module (tests that change nothing lasting)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('reg') / 'registry.db'}"
    upgrade_to_head(url)
    reg = Registry(url)
    reg.keyring = KeyRing([Fernet.generate_key().decode()])
    api = _make(reg)
    yield api
    api.client.close()
    reg.close()


@pytest.fixture
def api(reg: Registry, make_api: Callable[..., Api]) -> Api:
    """The API over SQLite and over PostgreSQL."""
    return make_api(reg)


@pytest.fixture
def lite(sqlite_reg: Registry, make_api: Callable[..., Api]) -> Api:
    """The API over SQLite only (behaviour that does not depend on the database)."""
    return make_api(sqlite_reg)
