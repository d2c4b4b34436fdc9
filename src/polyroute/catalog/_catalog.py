"""The merged model catalog: plugin entries, config overrides and live model lists.

The catalog sits in the bottom band with the plugin seam: it prepares a
provider's model-list request and parses the answer (both sans-IO), but never
sends it: the router's ``LiveCatalog`` (above the transport) does.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from polyroute.errors import ConfigError, PolyrouteError
from polyroute.types import Capability, ModelInfo

if TYPE_CHECKING:
    from polyroute.plugins.manager import PluginRegistry
    from polyroute.providers.base import HttpRequest, HttpResponse, Provider
    from polyroute.refs import Deployment

__all__ = ["Catalog", "CatalogEntry", "CatalogSource", "LiveModels"]


class _ProviderEntry(Protocol):
    @property
    def template(self) -> str | None: ...


class _ConfigView(Protocol):
    @property
    def models(self) -> Mapping[str, object]: ...
    @property
    def providers(self) -> Mapping[str, _ProviderEntry]: ...


class CatalogSource(Protocol):
    """What the catalog reads: a ``Router`` (or anything shaped like one). The
    config is read only for its ``models:`` keys and each provider's template."""

    @property
    def registry(self) -> PluginRegistry: ...
    @property
    def config(self) -> _ConfigView: ...
    def provider(self, name: str) -> Provider | None: ...
    def model_info(self, dep: Deployment) -> ModelInfo | None: ...

DEFAULT_LIVE_TTL = 600.0
"""Seconds a fetched live model list is reused."""


@dataclass(frozen=True, slots=True)
class LiveModels:
    """One provider's live model list, or why it could not be fetched."""

    provider: str
    ids: tuple[str, ...] = ()
    error: str | None = None
    """``None`` when fetched; else the reason (``unsupported``: the API has no list)."""
    fetched_at: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One model as the merged catalog sees it."""

    info: ModelInfo
    source: str
    """``catalog`` (a plugin), ``config (NAME)`` (a ``models:`` override on provider
    NAME) or ``live (NAME)`` (only the provider's live list names it)."""
    provider: str | None = None
    """The provider instance the row is about; ``None`` for a provider type's catalog."""
    live: bool | None = None
    """Whether the provider's live list names the model; ``None``: not fetched."""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.provider or "", self.info.provider_type, self.info.model)


@dataclass
class _Cache:
    lists: dict[str, LiveModels] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Catalog:
    """What a router knows about models, merged in this order (later wins):

    1. entries the plugins registered (``polyroute_register_models``), per provider type;
    2. entries a provider instance knows (``Provider.models()``);
    3. the config's ``models:`` overrides, per ``provider:model``;
    4. the provider's live model list (``Provider.list_models_request`` /
       ``parse_models``), cached for ``ttl`` seconds: it says which models the
       account can call, and adds the ones no catalog knows (limits and
       capabilities unknown).

    This class prepares and parses live lists; the router's ``LiveCatalog``
    fetches them (through the router's transport), only when asked, never while
    routing a call.
    """

    def __init__(
        self, router: CatalogSource, *, ttl: float = DEFAULT_LIVE_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.router = router
        self.ttl = ttl
        self._clock = clock
        self._cache = _Cache()

    # --- static entries ------------------------------------------------------------

    def type_entries(self) -> list[CatalogEntry]:
        """Every provider type's catalog (aliases folded), as the plugins registered it."""
        seen: dict[tuple[str, str], CatalogEntry] = {}
        for info in self.router.registry.models.values():
            seen.setdefault((info.provider_type, info.model),
                            CatalogEntry(info, "catalog"))
        return list(seen.values())

    def provider_entries(self, name: str, *, include_type_catalog: bool | None = None
                         ) -> list[CatalogEntry]:
        """The models provider ``name`` serves as far as the catalog and config know.

        ``include_type_catalog``: add its type's plugin catalog (default: unless the
        provider comes from a template — a Groq endpoint does not serve OpenAI's models).
        """
        provider = self.router.provider(name)
        if provider is None:
            return []
        if include_type_catalog is None:
            include_type_catalog = not self.from_template(name)
        out: dict[str, CatalogEntry] = {}
        if include_type_catalog:
            for info in self.router.registry.models.values():
                if info.provider_type == provider.type_name:
                    out.setdefault(info.model, CatalogEntry(info, "catalog", name))
        try:
            own = provider.models()
        except Exception:  # a plugin's catalog must not break listing
            own = []
        for info in own:
            out[info.model] = CatalogEntry(info, "catalog", name)
        for model, info in self.overrides(name).items():
            out[model] = CatalogEntry(info, f"config ({name})", name)
        return list(out.values())

    def overrides(self, name: str) -> dict[str, ModelInfo]:
        """The config's ``models:`` entries for provider ``name``, merged over the catalog."""
        from polyroute.refs import parse_model_ref

        out: dict[str, ModelInfo] = {}
        for key in self.router.config.models:
            try:
                pname, model = parse_model_ref(key)
            except ConfigError:
                continue
            if pname != name:
                continue
            info = self.info(name, model)
            if info is not None:
                out[model] = info
        return out

    def info(self, name: str, model: str) -> ModelInfo | None:
        """The merged entry for ``model`` on provider ``name`` (``None`` if unknown)."""
        from polyroute.refs import Deployment

        info = self.router.model_info(Deployment(name, model))
        if info is not None:
            return info
        provider = self.router.provider(name)
        if provider is None:
            return None
        try:
            own = provider.models()
        except Exception:
            return None
        for entry in own:
            if entry.model == model or model in entry.aliases:
                return entry
        return None

    def from_template(self, name: str) -> bool:
        pcfg = self.router.config.providers.get(name)
        if pcfg is not None:
            return pcfg.template is not None
        registry = self.router.registry
        return name in registry.templates and name not in registry.provider_types

    # --- live lists ----------------------------------------------------------------

    def cached(self, name: str) -> LiveModels | None:
        with self._cache.lock:
            hit = self._cache.lists.get(name)
        if hit is not None and hit.ok and self._clock() - hit.fetched_at <= self.ttl:
            return hit
        return None

    def store(self, live: LiveModels) -> LiveModels:
        if live.ok:
            with self._cache.lock:
                self._cache.lists[live.provider] = live
        return live

    def prepare_list(self, name: str) -> tuple[Provider, HttpRequest] | LiveModels:
        """The request for provider ``name``'s live list, or why there is none."""
        provider = self.router.provider(name)
        if provider is None:
            return LiveModels(name, error=f"provider '{name}' is not configured")
        not_ready = provider.is_configured()
        if not_ready is not None:
            return LiveModels(name, error=not_ready)
        try:
            request = provider.list_models_request()
        except PolyrouteError as exc:
            return LiveModels(name, error=describe(exc))
        if request is None:
            return LiveModels(name, error="unsupported: this provider's API has no model list")
        return provider, request

    def parse_list(self, name: str, provider: Provider, raw: HttpResponse) -> LiveModels:
        """The live list in ``raw`` (cached if it parsed), or why it is not one."""
        try:
            if raw.status >= 400:
                return LiveModels(name, error=describe(provider.parse_error(raw, "")))
            ids = provider.parse_models(raw)
        except PolyrouteError as exc:
            return LiveModels(name, error=describe(exc))
        except Exception as exc:  # a plugin bug must not break listing
            return LiveModels(name, error=f"bad model list ({type(exc).__name__}: {exc})")
        return self.store(LiveModels(name, tuple(dict.fromkeys(ids)), fetched_at=self._clock()))

    # --- the merged view -------------------------------------------------------------

    def entries(
        self,
        *,
        providers: Iterable[str] | None = None,
        capabilities: Iterable[Capability | str] = (),
        live: dict[str, LiveModels] | None = None,
    ) -> list[CatalogEntry]:
        """Merged entries, sorted, keeping those with every capability in ``capabilities``.

        ``providers=None``: every provider type's catalog, plus each configured
        provider's ``models:`` overrides. Named providers: what each serves. With
        ``live`` lists, rows of those providers say whether the list names them,
        and models only the live list names are added (source ``live (NAME)``).
        """
        rows: list[CatalogEntry] = []
        if providers is None:
            rows += self.type_entries()
            for name in self.router.config.providers:
                rows += [CatalogEntry(i, f"config ({name})", name)
                         for i in self.overrides(name).values()]
            for name in (live or {}):
                if name not in self.router.config.providers:
                    rows += self.provider_entries(name)
        else:
            for name in dict.fromkeys(providers):
                rows += self.provider_entries(name)
        if live:
            rows = self._with_live(rows, live)
        needed = {Capability(c) for c in capabilities}
        rows = [r for r in rows if needed <= set(r.info.capabilities)]
        return sorted(rows, key=lambda r: (r.info.provider_type, r.info.model,
                                           r.provider or "", r.source))

    def _with_live(self, rows: list[CatalogEntry], live: dict[str, LiveModels]
                   ) -> list[CatalogEntry]:
        out: list[CatalogEntry] = []
        listed: dict[str, set[str]] = {n: set(v.ids) for n, v in live.items() if v.ok}
        seen: dict[str, set[str]] = {n: set() for n in listed}
        for row in rows:
            ids = listed.get(row.provider or "")
            if ids is None:
                out.append(row)
                continue
            names = {row.info.model, *row.info.aliases}
            hit = bool(names & ids)
            seen[row.provider or ""].update(names)
            out.append(CatalogEntry(row.info, row.source, row.provider, hit))
        for name in listed:
            provider = self.router.provider(name)
            ptype = provider.type_name if provider is not None else name
            for model in live[name].ids:
                if model in seen[name]:
                    continue
                info = self.info(name, model) or ModelInfo(provider_type=ptype, model=model)
                out.append(CatalogEntry(info, f"live ({name})", name, True))
        return out


def describe(exc: BaseException) -> str:
    """How a failed list reads in ``polyroute models --live``."""
    reason = getattr(exc, "reason", None) or str(exc)
    status = getattr(exc, "status", None)
    text = f"{type(exc).__name__}: {reason}"
    return f"{text} (status {status})" if status else text
