"""Live model lists: the catalog's list requests, sent through the router's transport.

``polyroute.catalog.Catalog`` (bottom band, beside the plugin seam) prepares a
provider's model-list request and parses the answer; sending it is HTTP, so it
happens here, in the router's layer, where the transport is.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from polyroute.catalog import DEFAULT_LIVE_TTL, Catalog, LiveModels
from polyroute.catalog._catalog import describe
from polyroute.errors import PolyrouteError
from polyroute.refs import Deployment
from polyroute.routing.steps import Send, Steps, arun, run

if TYPE_CHECKING:
    from polyroute.router.core import Router

__all__ = ["LiveCatalog", "catalog_for"]


class LiveCatalog(Catalog):
    """A router's ``Catalog`` that can also fetch live model lists (cached ``ttl`` s)."""

    def __init__(
        self, router: Router, *, ttl: float = DEFAULT_LIVE_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(router, ttl=ttl, clock=clock)
        self._transport = router.transport
        self._timeouts = router.timeouts

    def live_models(self, name: str, *, refresh: bool = False) -> LiveModels:
        """Provider ``name``'s live model list (cached ``ttl`` seconds). Never raises."""
        return run(self._live(name, refresh))

    async def alive_models(self, name: str, *, refresh: bool = False) -> LiveModels:
        """Async ``live_models``: the same steps, the send awaited."""
        return await arun(self._live(name, refresh))

    def _live(self, name: str, refresh: bool) -> Steps[LiveModels]:
        if not refresh and (hit := self.cached(name)) is not None:
            return hit
        prepared = self.prepare_list(name)
        if isinstance(prepared, LiveModels):
            return prepared
        provider, request = prepared
        try:
            raw = yield Send(self._transport, request, self._timeouts,
                             Deployment(name, "(model list)"), None)
        except PolyrouteError as exc:
            return LiveModels(name, error=describe(exc))
        return self.parse_list(name, provider, raw)

    async def alive_many(self, names: Iterable[str], *, refresh: bool = False
                         ) -> dict[str, LiveModels]:
        """Live lists of several providers, fetched concurrently."""
        names = list(dict.fromkeys(names))
        lists = await asyncio.gather(*(self.alive_models(n, refresh=refresh) for n in names))
        return dict(zip(names, lists, strict=True))


_catalogs: weakref.WeakKeyDictionary[Router, LiveCatalog] = weakref.WeakKeyDictionary()
_catalogs_lock = threading.Lock()


def catalog_for(router: Router) -> LiveCatalog:
    """The catalog of ``router`` (one per router, so live lists are cached per router)."""
    with _catalogs_lock:
        catalog = _catalogs.get(router)
        if catalog is None:
            catalog = _catalogs[router] = LiveCatalog(router)
        return catalog
