"""Plugin host: hookspecs, the ``hookimpl`` marker and the plugin registry."""

from polyroute.plugins.manager import (
    ENTRY_POINT_GROUP,
    PluginLoadFailure,
    PluginRegistry,
    default_registry,
    get_plugin_manager,
    hookimpl,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginLoadFailure",
    "PluginRegistry",
    "default_registry",
    "get_plugin_manager",
    "hookimpl",
]
