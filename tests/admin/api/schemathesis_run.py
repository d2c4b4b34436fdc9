"""Property-based test of the admin API against its own OpenAPI document (schemathesis,
in-process through ASGI, derandomised, a bounded number of examples per operation):
no server error, every response matches its schema (errors: the one error shape).

``test_schemathesis.py`` runs this file in a fresh interpreter: on CPython 3.11.7 an
earlier test in the same process can leave ``ast.parse`` broken ("AST constructor
recursion depth mismatch", fixed in 3.11.8), and Hypothesis parses lambdas' source
while it generates schemathesis' data."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("schemathesis")

import schemathesis
from admin_api_support import Dns, error_shape
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from polyroute.admin import KeyRing, Registry, upgrade_to_head
from polyroute.admin.api import AdminSettings, create_app
from polyroute.plugins import PluginRegistry
from polyroute_openai import plugin as openai_plugin

TOKEN: dict[str, str] = {}


def make_app() -> Any:
    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='polyroute-st-')) / 'registry.db'}"
    upgrade_to_head(url)
    reg = Registry(url)
    reg.keyring = KeyRing([Fernet.generate_key().decode()])
    reg.create("user", {"name": "root", "role": "admin"}, actor="test")
    TOKEN["admin"] = reg.create_token("root", actor="test")[1]
    # something to find: a provider, a model, a template, a route, an agent, a budget
    reg.create("provider", {"identifier": "acme", "name": "acme", "provider_type": "openai",
                            "api_endpoint": "http://127.0.0.1:9/v1"}, actor="test")
    reg.add_model("acme", {"name": "m1", "is_default": True}, actor="test")
    reg.create("template", {"identifier": "tpl", "name": "tpl",
                            "provider_config": {"provider_type": "openai"}}, actor="test")
    reg.create("route", {"name": "x", "tiers": [["acme:m1"]]}, actor="test")
    reg.create("agent", {"name": "x", "route": "x"}, actor="test")
    reg.create("budget", {"name": "x", "usd": 5.0}, actor="test")
    # the connectivity tests reach only a closed loopback port: never the network
    cfg = AdminSettings(
        resolver=Dns(), keyring=reg.keyring, allow_private_endpoints=True,
        plugins=PluginRegistry.create(load_entrypoints=False, plugins=[openai_plugin]),
        test_timeout_s=1.0, tests_per_window=1000)
    return create_app(registry=reg, settings=cfg)


schema = schemathesis.openapi.from_asgi("/openapi.json", make_app())


@schema.parametrize()
@settings(max_examples=5, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_api_matches_its_own_schema(case: Any) -> None:
    response = case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN['admin']}"},
        checks=[not_a_server_error, status_code_conformance, content_type_conformance,
                response_schema_conformance])
    if response.status_code >= 400:
        error_shape(response.json())
