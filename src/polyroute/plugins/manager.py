"""Load plugins from the ``polyroute`` entry-point group and collect what they register.

Entry points are loaded one at a time: a plugin that fails to import is
recorded in ``PluginRegistry.failures`` (and logged), never fatal. The
``POLYROUTE_PLUGINS`` environment variable is an allow-list of entry-point
names (comma-separated; empty loads none) for reproducible environments.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from polyroute._markers import hookimpl
from polyroute.errors import ConfigError, PluginError
from polyroute.plugins import hookspecs
from polyroute.plugins.framings import register_plugin_framing
from polyroute.plugins.known import unknown_type_fix
from polyroute.providers.base import Provider, ProviderTemplate
from polyroute.secret_refs import register_backend
from polyroute.types import ModelInfo

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginLoadFailure",
    "PluginRegistry",
    "default_registry",
    "get_plugin_manager",
    "hookimpl",
]

ENTRY_POINT_GROUP = "polyroute"
ALLOW_LIST_ENV = "POLYROUTE_PLUGINS"
logger = logging.getLogger("polyroute.plugins")


@dataclass(frozen=True, slots=True)
class PluginLoadFailure:
    """A plugin that could not be loaded, and why."""

    name: str
    value: str
    error: str

    def __str__(self) -> str:
        return f"plugin '{self.name}' ({self.value}) was skipped: {self.error}"


def get_plugin_manager(
    *, load_entrypoints: bool = True, plugins: Iterable[Any] = ()
) -> tuple[pluggy.PluginManager, list[PluginLoadFailure]]:
    """A fresh plugin manager with the hookspecs, entry points and ``plugins``.

    The built-in strategies live above this seam (``routing.strategies``): whoever
    routes with the registry adds them (``with_builtin_strategies``; the router does)."""
    pm = pluggy.PluginManager("polyroute")
    pm.add_hookspecs(hookspecs)
    failures: list[PluginLoadFailure] = []
    if load_entrypoints:
        failures = _load_entrypoints(pm)
    for plugin in plugins:
        pm.register(plugin)
    return pm, failures


def _load_entrypoints(pm: pluggy.PluginManager) -> list[PluginLoadFailure]:
    allowed_raw = os.environ.get(ALLOW_LIST_ENV)
    allowed = (
        None
        if allowed_raw is None
        else {n.strip() for n in allowed_raw.split(",") if n.strip()}
    )
    failures: list[PluginLoadFailure] = []
    seen: set[str] = set()
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in seen or (allowed is not None and ep.name not in allowed):
            continue
        seen.add(ep.name)
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:  # a broken plugin must not stop the host
            failure = PluginLoadFailure(ep.name, ep.value, f"{type(exc).__name__}: {exc}")
            failures.append(failure)
            logger.warning("%s", failure)
    return failures


@dataclass
class PluginRegistry:
    """Everything the plugins registered: provider types, templates, models, strategies."""

    pm: pluggy.PluginManager
    failures: list[PluginLoadFailure] = field(default_factory=list)
    provider_types: dict[str, type[Provider]] = field(default_factory=dict)
    templates: dict[str, ProviderTemplate] = field(default_factory=dict)
    models: dict[tuple[str, str], ModelInfo] = field(default_factory=dict)
    strategies: dict[str, Any] = field(default_factory=dict)
    provider_type_origin: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(
        cls, *, load_entrypoints: bool = True, plugins: Iterable[Any] = ()
    ) -> PluginRegistry:
        pm, failures = get_plugin_manager(load_entrypoints=load_entrypoints, plugins=plugins)
        registry = cls(pm=pm, failures=failures)
        registry._collect()
        return registry

    def _collect(self) -> None:
        hook = self.pm.hook
        for impl in hook.polyroute_register_provider_types.get_hookimpls():
            origin = self.pm.get_name(impl.plugin) or repr(impl.plugin)
            self._call(impl, lambda p, o=origin: self._add_type(p, o))
        hook.polyroute_register_templates(register=self._add_template)
        hook.polyroute_register_models(register=self._add_model)
        hook.polyroute_register_strategies(register=self._add_strategy)
        hook.polyroute_register_framings(register=register_plugin_framing)
        hook.polyroute_register_secret_backends(register=register_backend)

    def _call(self, impl: Any, register: Any) -> None:
        try:
            impl.function(register=register)
        except PluginError:
            raise
        except Exception as exc:
            raise PluginError(
                f"plugin '{self.pm.get_name(impl.plugin)}' failed while registering: {exc!r}"
            ) from exc

    def _add_type(self, cls: type[Provider], origin: str) -> None:
        if not (isinstance(cls, type) and issubclass(cls, Provider)):
            raise PluginError(f"plugin '{origin}' registered {cls!r}, not a Provider subclass")
        name = cls.type_name
        if name in self.provider_types and self.provider_types[name] is not cls:
            raise PluginError(
                f"provider type '{name}' registered twice "
                f"(by '{self.provider_type_origin[name]}' and '{origin}')"
            )
        self.provider_types[name] = cls
        self.provider_type_origin[name] = origin

    def _add_template(self, template: ProviderTemplate) -> None:
        self.templates[template.name] = template

    def _add_model(self, info: ModelInfo) -> None:
        self.models[(info.provider_type, info.model)] = info
        for alias in info.aliases:
            self.models.setdefault((info.provider_type, alias), info)

    def _add_strategy(self, name: str, strategy: Any) -> None:
        self.strategies[name] = strategy

    def provider_type(self, name: str) -> type[Provider]:
        try:
            return self.provider_types[name]
        except KeyError:
            known = ", ".join(sorted(self.provider_types)) or "none installed"
            raise ConfigError(
                f"unknown provider type '{name}' (installed: {known})",
                fix=unknown_type_fix(name, self.provider_types),
            ) from None

    def model_info(self, provider_type: str, model: str) -> ModelInfo | None:
        return self.models.get((provider_type, model))


_default: PluginRegistry | None = None
_default_lock = threading.Lock()


def default_registry() -> PluginRegistry:
    """The registry of installed plugins, loaded once per process on first use."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = PluginRegistry.create()
    return _default
