"""The model catalog: what each model can do, how much it holds, what it costs.

``Catalog`` merges the plugins' entries, each provider instance's own
entries, the config's ``models:`` overrides and — when asked — the
provider's live model list (prepared and parsed here; fetched, through the
router's transport, by the router's ``LiveCatalog`` and ``catalog_for``).
``ContextOverflowGuard`` makes a context-window overflow fall back only to
candidates with a larger window.
"""

from polyroute.catalog._catalog import (
    DEFAULT_LIVE_TTL,
    Catalog,
    CatalogEntry,
    CatalogSource,
    LiveModels,
)
from polyroute.catalog.overflow import ContextOverflowGuard

__all__ = [
    "DEFAULT_LIVE_TTL",
    "Catalog",
    "CatalogEntry",
    "CatalogSource",
    "ContextOverflowGuard",
    "LiveModels",
]
