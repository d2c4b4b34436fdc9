"""Fixtures for CLI tests: an echo-only registry with a small catalog, a runner
that injects it, and a config writer. Every test runs in an empty directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import echo_provider
import pytest
import yaml
from click.testing import CliRunner, Result

from polyroute import hookimpl
from polyroute.cli import main
from polyroute.plugins import PluginRegistry
from polyroute.providers import Provider, ProviderTemplate
from polyroute.types import Capability, ModelInfo, ModelPrices


class KeyedEchoProvider(echo_provider.EchoProvider):
    """The echo protocol, but a key is required (to test key status and skips)."""

    type_name = "keyed_echo"
    api_key_env: ClassVar[tuple[str, ...]] = ("KEYED_ECHO_API_KEY",)
    requires_api_key = True


class CliTestPlugin:
    """A second test plugin: a keyed provider type, a template and echo's catalog."""

    @hookimpl
    def polyroute_register_provider_types(self, register: Callable[[type[Provider]], None]) -> None:
        register(KeyedEchoProvider)

    @hookimpl
    def polyroute_register_templates(self, register: Callable[[ProviderTemplate], None]) -> None:
        register(ProviderTemplate(
            name="echo-local", type="echo", base_url="http://127.0.0.1:9",
            api_key_env=("ECHO_LOCAL_KEY",), description="a local echo server",
        ))

    @hookimpl
    def polyroute_register_models(self, register: Callable[[ModelInfo], None]) -> None:
        for ptype in ("echo", "keyed_echo"):
            register(ModelInfo(
                provider_type=ptype, model="big", context_window=100_000, max_output_tokens=8_000,
                capabilities=frozenset({Capability.TOOLS, Capability.VISION,
                                        Capability.JSON_SCHEMA, Capability.STREAMING}),
                prices=ModelPrices(input=1.0, output=2.0),
            ))
            register(ModelInfo(
                provider_type=ptype, model="small", context_window=8_000, max_output_tokens=1_000,
                capabilities=frozenset({Capability.STREAMING}),
                prices=ModelPrices(input=0.1, output=0.2),
            ))


@pytest.fixture
def registry() -> PluginRegistry:
    return PluginRegistry.create(load_entrypoints=False, plugins=[echo_provider, CliTestPlugin()])


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("POLYROUTE_CONFIG", "POLYROUTE_PROFILE", "KEYED_ECHO_API_KEY", "ECHO_API_KEY",
                 "ECHO_LOCAL_KEY", "COLUMNS"):
        monkeypatch.delenv(name, raising=False)


Run = Callable[..., Result]


@pytest.fixture
def run(registry: PluginRegistry) -> Run:
    """``run("check", ...)``: invoke the CLI with the test registry, no exception caught."""

    def invoke(*args: str, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        return CliRunner().invoke(
            main, list(args), obj=registry, env=env, input=input, catch_exceptions=False
        )

    return invoke


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., str]:
    """Write a config (a dict as YAML, or text as is) and return its path."""

    def write(data: dict[str, Any] | str, name: str = "polyroute.yaml") -> str:
        path = tmp_path / name
        path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
        return str(path)

    return write
