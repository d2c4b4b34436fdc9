"""The router: composes the plan, the guards and the transport (``core``), and
the streaming half under the streaming failure policy (``streaming``), and the
catalog's live model lists, fetched through the router's transport (``catalog``)."""

from polyroute.router.catalog import LiveCatalog, catalog_for
from polyroute.router.core import Router

__all__ = ["LiveCatalog", "Router", "catalog_for"]
