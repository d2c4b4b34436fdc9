"""Turn a provider's config entry (maybe a template) into ``ProviderSettings``."""

from __future__ import annotations

import os

from polyroute.config.schema import ProviderConfig
from polyroute.errors import ConfigError
from polyroute.plugins.known import unknown_type_fix
from polyroute.plugins.manager import PluginRegistry
from polyroute.providers.base import ProviderSettings

__all__ = ["implicit_provider_config", "provider_settings"]


def _first_env(names: tuple[str, ...]) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def provider_settings(
    name: str, cfg: ProviderConfig, registry: PluginRegistry, *, file: str | None = None
) -> ProviderSettings:
    """Settings for provider ``name``: the template's values under the config's own."""
    field = f"providers.{name}"
    if cfg.template is None:
        assert cfg.type is not None
        if cfg.type not in registry.provider_types:
            _unknown_type(cfg.type, registry, file, f"{field}.type")
        return ProviderSettings(
            name=name, type=cfg.type, base_url=cfg.base_url, api_key=cfg.api_key,
            api_version=cfg.api_version, organization=cfg.organization, project=cfg.project,
            headers=dict(cfg.headers), extra=dict(cfg.extra),
        )
    template = registry.templates.get(cfg.template)
    if template is None:
        known = ", ".join(sorted(registry.templates)) or "none installed"
        raise ConfigError(
            f"unknown template '{cfg.template}' (installed: {known})", file=file,
            field=f"{field}.template", fix="use an installed template or give 'type' instead",
        )
    ptype = cfg.type or template.type
    if ptype not in registry.provider_types:
        _unknown_type(ptype, registry, file, f"{field}.type")
    return ProviderSettings(
        name=name,
        type=ptype,
        base_url=cfg.base_url or _first_env(template.base_url_env) or template.base_url,
        api_key=cfg.api_key,
        api_key_env=template.api_key_env,
        requires_api_key=template.api_key_required,
        api_version=cfg.api_version or _first_env(template.api_version_env),
        organization=cfg.organization,
        project=cfg.project,
        headers={**template.headers, **cfg.headers},
        extra={**template.extra, **cfg.extra},
    )


def implicit_provider_config(name: str, registry: PluginRegistry) -> ProviderConfig | None:
    """A provider named like an installed type or template needs no config entry."""
    if name in registry.provider_types:
        return ProviderConfig(type=name)
    if name in registry.templates:
        return ProviderConfig(template=name)
    return None


def _unknown_type(ptype: str, registry: PluginRegistry, file: str | None, field: str) -> None:
    known = ", ".join(sorted(registry.provider_types)) or "none installed"
    raise ConfigError(
        f"unknown provider type '{ptype}' (installed: {known})", file=file, field=field,
        fix=unknown_type_fix(ptype, registry.provider_types),
    )
