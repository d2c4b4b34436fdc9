"""Fixtures for capability-aware routing: echo-protocol provider types with a small
catalog, one that classifies context overflow, one that takes few parameters."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import ClassVar

import echo_provider
import pytest

from polyroute import hookimpl
from polyroute.errors import ContextWindowError, ProviderError
from polyroute.plugins import PluginRegistry
from polyroute.providers import HttpResponse, Provider
from polyroute.testing.standin import StandinServer
from polyroute.types import Capability, ModelInfo, ModelPrices

OVERFLOW = "This model's maximum context length is 8192 tokens"


class CatalogEcho(echo_provider.EchoProvider):
    """The echo protocol; a 400 that says the prompt is too long is a ContextWindowError."""

    type_name = "cat_echo"

    def parse_error(self, response: HttpResponse, model: str) -> ProviderError:
        if "maximum context length" in response.text:
            return ContextWindowError(response.text[:200], provider=self.name, model=model,
                                      status=response.status)
        return super().parse_error(response, model)


class PickyEcho(echo_provider.EchoProvider):
    """Takes temperature and max_tokens only."""

    type_name = "picky_echo"
    supported_params: ClassVar[frozenset[str] | None] = frozenset({"temperature", "max_tokens"})


class RoutingTestPlugin:
    @hookimpl
    def polyroute_register_provider_types(self, register: Callable[[type[Provider]], None]
                                          ) -> None:
        register(CatalogEcho)
        register(PickyEcho)

    @hookimpl
    def polyroute_register_models(self, register: Callable[[ModelInfo], None]) -> None:
        for ptype in ("cat_echo", "picky_echo"):
            register(ModelInfo(
                provider_type=ptype, model="big", context_window=100_000,
                max_output_tokens=8_000,
                capabilities=frozenset({Capability.TOOLS, Capability.VISION,
                                        Capability.JSON_SCHEMA, Capability.STREAMING}),
                prices=ModelPrices(input=1.0, output=2.0),
            ))
            register(ModelInfo(
                provider_type=ptype, model="small", context_window=8_000,
                max_output_tokens=1_000, capabilities=frozenset({Capability.STREAMING}),
                prices=ModelPrices(input=0.1, output=0.2),
            ))
            register(ModelInfo(
                provider_type=ptype, model="mid", context_window=32_000,
                max_output_tokens=4_000,
                capabilities=frozenset({Capability.TOOLS, Capability.STREAMING}),
            ))


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    return PluginRegistry.create(load_entrypoints=False,
                                 plugins=[echo_provider, RoutingTestPlugin()])


@pytest.fixture
def third() -> Iterator[StandinServer]:
    with StandinServer(echo_provider.EchoResponder("third")) as server:
        yield server
