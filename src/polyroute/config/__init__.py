"""Config: one pydantic schema, loaded from YAML or TOML."""

import polyroute.secret_backends  # noqa: F401  (registers file:, aws-sm:, vault: for secrets)
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
