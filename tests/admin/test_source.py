"""The registry as a config source: the same validated config a file gives, overlaying it."""

from __future__ import annotations

from typing import Any

import pytest

from polyroute.admin import (
    CredentialError,
    ReadOnlyEntryError,
    Registry,
    RegistryConflictError,
    RegistryValidationError,
    registry_config,
    sync_system_entries,
)
from polyroute.config.loader import config_from_data
from polyroute.config.schema import PolyrouteConfig
from polyroute.plugins import PluginRegistry
from polyroute.router import Router
from polyroute.testing.standin import StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints

KEY_VALUE = "sk-test-R8tY2uI6oP0aS4dF7gH9jK3l"


def _provider(ident: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"identifier": ident, "name": ident.title(), "provider_type": "echo",
            "api_endpoint": url, "auth_config": {"credential": f"{ident}-key"}, **extra}


def test_registry_config_builds_a_router_that_answers(
    reg: Registry, echo_registry: PluginRegistry, primary: StandinServer
) -> None:
    reg.put_credential("db-key", KEY_VALUE, actor="a")
    reg.create("provider", _provider("db", primary.url), actor="a")
    reg.add_model("db", {"name": "m", "context_length": 4096,
                         "pricing_info": {"input": 1.0, "output": 2.0}}, actor="a")
    reg.create("route", {"name": "main", "tiers": [["db:m"]]}, actor="a")
    reg.create("agent", {"name": "bot", "route": "main", "params": {"temperature": 0.1}},
               actor="a")
    reg.create("budget", {"name": "cap", "usd": 5.0, "scope": "provider:db"}, actor="a")
    config = registry_config(reg)
    assert isinstance(config, PolyrouteConfig) and config.source == "registry"
    assert config.providers["db"].api_key is not None
    assert config.providers["db"].api_key.reveal() == KEY_VALUE
    assert config.models["db:m"].context_window == 4096
    assert config.routes["main"].tiers == [["db:m"]]
    assert config.agents["bot"].temperature == 0.1
    assert [b.name for b in config.budgets] == ["cap"]
    with Router(config, registry=echo_registry) as router:
        result = router.chat(ChatRequest(messages=[Message.user("hi")],
                                         routing=RoutingHints(agent="bot")))
    assert (result.provider, result.model) == ("db", "m")


def test_file_entries_are_read_only_system_rows_and_the_registry_overlays_them(
    reg: Registry, echo_registry: PluginRegistry, primary: StandinServer,
    secondary: StandinServer,
) -> None:
    base = config_from_data({
        "providers": {"file": {"type": "echo", "base_url": primary.url,
                               "api_key": "env:FILE_KEY"}},
        "agents": {"a1": {"model": "file:m"}},
        "retry": {"attempts": 1},
    }, file="polyroute.yaml")
    assert sync_system_entries(reg, base, plugins=echo_registry)["created"] == 1
    row = reg.get("provider", "file")
    assert row.is_system and row.origin == "polyroute.yaml"
    assert row.auth_config == {"credential": "env:FILE_KEY"}  # a reference, never a value
    with pytest.raises(ReadOnlyEntryError, match="system entry"):
        reg.update("provider", "file", {"description": "x"}, version=row.version, actor="a")
    with pytest.raises(ReadOnlyEntryError):
        reg.delete("provider", "file", version=row.version, actor="a")
    with pytest.raises(ReadOnlyEntryError):
        reg.add_model("file", {"name": "m"}, actor="a")
    with pytest.raises(RegistryConflictError):  # a registry entry cannot hide a file one
        reg.create("provider", _provider("file", secondary.url), actor="a")
    assert sync_system_entries(reg, base, plugins=echo_registry) == {
        "created": 0, "updated": 0, "removed": 0}

    reg.put_credential("db-key", KEY_VALUE, actor="a")
    reg.create("provider", _provider("db", secondary.url), actor="a")
    reg.create("provider", _provider("off", secondary.url, status="inactive"), actor="a")
    reg.create("agent", {"name": "a2", "model": "db:m", "fallbacks": ["file:m"]}, actor="a")
    config = registry_config(reg, base=base)
    assert set(config.providers) == {"file", "db"}  # inactive left out
    assert config.providers["file"] is base.providers["file"]  # the file stays the truth
    assert set(config.agents) == {"a1", "a2"} and config.retry.attempts == 1
    with Router(config, registry=echo_registry) as router:
        for agent, served_by in (("a1", "file"), ("a2", "db")):
            r = router.chat(ChatRequest(messages=[Message.user("hi")],
                                        routing=RoutingHints(agent=agent)))
            assert r.provider == served_by

    gone = config_from_data({"providers": {}})
    assert sync_system_entries(reg, gone)["removed"] == 1
    assert {p.identifier for p in reg.list("provider")} == {"db", "off"}
    assert reg.verify_chain().ok


def test_header_templates_render_from_the_credential(reg: Registry) -> None:
    reg.put_credential("h-key", KEY_VALUE, actor="a")
    reg.create("provider", _provider("h", "https://h.test/v1", auth_config={
        "credential": "h-key", "headers": {"Authorization": "Bearer {{apiKey}}",
                                           "X-Org": "team-1"}}), actor="a")
    config = registry_config(reg)
    assert config.providers["h"].headers == {"Authorization": f"Bearer {KEY_VALUE}",
                                             "X-Org": "team-1"}
    assert KEY_VALUE not in repr(config.providers["h"])


def test_bad_changes_are_refused_at_write_time(reg: Registry) -> None:
    with pytest.raises(RegistryValidationError) as info:
        reg.create("provider", _provider("lit", "https://x.test", auth_config={
            "headers": {"Authorization": f"Bearer {KEY_VALUE}"}}), actor="a")
    assert info.value.field == "providers.lit.auth_config.headers.Authorization"
    assert KEY_VALUE not in str(info.value)
    with pytest.raises(RegistryValidationError, match="oauth2 provider needs") as info:
        reg.create("provider", _provider("o", "https://x.test", auth_method="oauth2"),
                   actor="a")
    assert info.value.field == "providers.o.auth_config.token_url"
    reg.create("provider", _provider("o", "https://x.test", auth_method="oauth2", auth_config={
        "token_url": "https://idp.test/token", "client_id": "c", "credential": "o-key"}),
        actor="a")
    with pytest.raises(RegistryValidationError, match="give 'type'"):
        reg.create("provider", {"identifier": "nt", "name": "x"}, actor="a")
    with pytest.raises(RegistryValidationError, match="rpm"):
        reg.create("provider", _provider("r", "https://x.test", settings={"rpm": -1}),
                   actor="a")
    with pytest.raises(RegistryValidationError, match=r"settings\.api_key"):
        reg.create("provider", _provider("s", "https://x.test",
                                         settings={"api_key": KEY_VALUE}), actor="a")
    assert [p.identifier for p in reg.list("provider")] == ["o"]


def test_a_missing_credential_is_a_typed_error(reg: Registry) -> None:
    reg.create("provider", _provider("db", "https://x.test"), actor="a")
    with pytest.raises(CredentialError, match="credential 'db-key', which is not in"):
        registry_config(reg)


def test_secret_named_settings_are_refused_unless_references(reg: Registry) -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    with pytest.raises(RegistryValidationError) as info:
        reg.create("provider", _provider("aws", "https://x.test", settings={
            "extra": {"region": "us-east-1", "aws_secret_access_key": secret}}), actor="a")
    assert info.value.field == "providers.aws.settings.extra.aws_secret_access_key"
    assert secret not in str(info.value)
    reg.create("provider", _provider("aws", "https://x.test", settings={
        "extra": {"region": "us-east-1", "aws_secret_access_key": "env:AWS_SECRET"},
        "tpm": 1000}), actor="a")


def test_plugin_templates_become_read_only_system_templates(reg: Registry) -> None:
    from polyroute.plugins import default_registry

    plugins = default_registry()
    assert plugins.templates, "the first-party plugins register templates"
    counts = sync_system_entries(reg, None, plugins=plugins)
    assert counts["created"] == len(plugins.templates)
    name = sorted(plugins.templates)[0]
    row = reg.get("template", name)
    assert row.is_system and row.origin == "plugin"
    assert row.provider_config["type"] == plugins.templates[name].type
    with pytest.raises(ReadOnlyEntryError):
        reg.update("template", name, {"description": "x"}, version=row.version, actor="a")
    assert sync_system_entries(reg, None, plugins=plugins)["updated"] == 0
