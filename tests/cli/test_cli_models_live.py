"""``polyroute models --live`` and the merged catalog: plugin entries, config overrides and
the provider's own model list, fetched through the router's transport and cached."""

from __future__ import annotations

import json
from collections.abc import Iterator

import echo_provider
import pytest

from polyroute.plugins import PluginRegistry
from polyroute.router import LiveCatalog as Catalog
from polyroute.router import Router, catalog_for
from polyroute.testing.standin import StandinServer
from polyroute_openai import plugin as openai_plugin
from polyroute_openai.standin import OpenAIResponder

pytestmark = pytest.mark.standin


@pytest.fixture
def registry() -> PluginRegistry:
    return PluginRegistry.create(load_entrypoints=False, plugins=[openai_plugin, echo_provider])


@pytest.fixture
def server() -> Iterator[StandinServer]:
    models = ("gpt-4.1", "gpt-4.1-mini", "my-finetune")
    with StandinServer(OpenAIResponder(models=models, require_api_key="sk-ok")) as s:
        yield s


def cfg(server: StandinServer, key: str = "sk-ok") -> dict:  # type: ignore[type-arg]
    return {"providers": {"oa": {"type": "openai", "api_key": key},
                          "compat": {"template": "vllm", "base_url": server.url + "/v1",
                                     "api_key": key}},
            "models": {"compat/my-finetune": {"context_window": 16_384,
                                              "capabilities": ["tools"]}}}


def test_live_list_merges_with_the_catalog(run, write_config, server) -> None:  # type: ignore[no-untyped-def]
    write_config(cfg(server))
    result = run("models", "--live", "-p", "compat", "--json")
    assert result.exit_code == 0, result.output
    rows = {m["model"]: m for m in json.loads(result.stdout)}
    # a template's endpoint: no OpenAI catalog rows, only the config and the live list
    assert set(rows) == {"gpt-4.1", "gpt-4.1-mini", "my-finetune"}
    assert rows["my-finetune"]["source"] == "config (compat)"
    assert rows["my-finetune"]["live"] is True and rows["my-finetune"]["context_window"] == 16_384
    assert rows["gpt-4.1"]["source"] == "live (compat)"
    assert rows["gpt-4.1"]["context_window"] > 100_000  # the plugin's catalog fills it in
    assert {m["provider"] for m in rows.values()} == {"compat"}


def test_live_table_and_capability_filter(run, write_config, server) -> None:  # type: ignore[no-untyped-def]
    write_config(cfg(server))
    result = run("models", "--live", "-p", "compat", "--capability", "tools")
    assert result.exit_code == 0
    line = next(x for x in result.stdout.splitlines() if "my-finetune" in x)
    assert "16,384" in line and line.rstrip(" │").endswith("yes")


def test_live_failure_is_reported(run, write_config, server) -> None:  # type: ignore[no-untyped-def]
    write_config(cfg(server, key="sk-wrong"))
    result = run("models", "--live", "-p", "compat")
    assert result.exit_code == 1
    assert "live model list of 'compat' not fetched: AuthenticationError" in result.stderr
    assert "sk-wrong" not in result.output


def test_live_needs_a_provider_instance(run, write_config) -> None:  # type: ignore[no-untyped-def]
    assert run("models", "--live").exit_code == 2  # nothing configured
    result = run("models", "--live", "-p", "azure_openai")
    assert result.exit_code == 2 and "provider instances, not types" in result.output


def test_catalog_caches_live_lists(registry, server) -> None:  # type: ignore[no-untyped-def]
    now = [0.0]
    with Router(cfg(server), registry=registry) as router:
        catalog = Catalog(router, ttl=60, clock=lambda: now[0])
        first = catalog.live_models("compat")
        assert first.ok and "my-finetune" in first.ids
        catalog.live_models("compat")
        assert len(server.requests) == 1
        now[0] = 61.0
        catalog.live_models("compat")
        assert len(server.requests) == 2
        catalog.live_models("compat", refresh=True)
        assert len(server.requests) == 3
        assert catalog_for(router) is catalog_for(router)


async def test_async_live_lists_and_errors(registry, server) -> None:  # type: ignore[no-untyped-def]
    config = cfg(server)
    config["providers"]["echo"] = {"type": "echo"}
    with Router(config, registry=registry) as router:
        catalog = Catalog(router)
        lists = await catalog.alive_many(["compat", "echo", "nowhere"])
        assert lists["compat"].ok
        assert lists["echo"].error is not None and lists["echo"].error.startswith("unsupported")
        assert lists["nowhere"].error == "provider 'nowhere' is not configured"
        await router.aclose()


def test_catalog_entries_merge_order(registry, server) -> None:  # type: ignore[no-untyped-def]
    with Router(cfg(server), registry=registry) as router:
        catalog = Catalog(router)
        oa = {e.info.model: e for e in catalog.provider_entries("oa")}
        assert "gpt-4.1-mini" in oa and oa["gpt-4.1-mini"].source == "catalog"
        compat = {e.info.model: e for e in catalog.provider_entries("compat")}
        assert set(compat) == {"my-finetune"}
        info = catalog.info("compat", "my-finetune")
        assert info is not None and info.context_window == 16_384
        assert catalog.info("compat", "unknown") is None
