"""Config: one pydantic schema, loaded from YAML or TOML."""

from polyroute.config.loader import config_from_data, load_config
from polyroute.config.schema import (
    AgentConfig,
    ModelOverride,
    PolyrouteConfig,
    ProviderConfig,
    RetryConfig,
    RouteConfig,
    TimeoutConfig,
)

__all__ = [
    "AgentConfig",
    "ModelOverride",
    "PolyrouteConfig",
    "ProviderConfig",
    "RetryConfig",
    "RouteConfig",
    "TimeoutConfig",
    "config_from_data",
    "load_config",
]
