"""Facts the commands show, gathered without network and without revealing a secret."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from polyroute.config.schema import PolyrouteConfig
    from polyroute.providers.base import Provider
    from polyroute.router import Router
    from polyroute.types import GenerationParams, ModelInfo

__all__ = [
    "KeyStatus",
    "ProviderRow",
    "catalog",
    "config_refs",
    "describe_params",
    "key_status",
    "model_problems",
    "provider_row",
]


@dataclass(frozen=True, slots=True)
class KeyStatus:
    """Whether a provider has the key it needs. Never holds the key itself."""

    state: str
    """``set``, ``missing``, ``optional`` (named but unset, and the provider needs
    none) or ``not needed``."""
    source: str | None = None
    """The env var it comes from (or should), or ``config`` for a literal value."""
    literal: bool = False

    @property
    def ok(self) -> bool:
        return self.state != "missing"

    def __str__(self) -> str:
        if self.state == "set":
            if self.literal:
                return "set (in config)"
            source = self.source or ""
            return (f"set ({source} secret backend)" if source.endswith(":")
                    else f"set (env {source})")
        if self.state == "missing":
            return f"missing ({self.source})" if self.source else "missing"
        if self.state == "optional":
            return f"optional, unset ({self.source})"
        return "not needed"


def key_status(provider: Provider) -> KeyStatus:
    key = provider.settings.api_key
    if key is not None and key.is_available():
        env = key.env_name
        if env is None and key.reference is not None:  # read from a secret backend
            return KeyStatus("set", key.reference.split(":", 1)[0] + ":")
        return KeyStatus("set", env or "config", literal=env is None)
    reason = provider.is_configured()
    if reason is None:
        if key is not None and key.env_name:
            return KeyStatus("optional", key.env_name)
        return KeyStatus("not needed")
    names: tuple[str, ...] = getattr(provider, "key_env_names", provider.api_key_env)
    env = (key.env_name if key is not None else None) or " or ".join(names)
    return KeyStatus("missing", env or reason)


@dataclass(frozen=True, slots=True)
class ProviderRow:
    name: str
    type: str
    template: str | None
    base_url: str | None
    key: KeyStatus
    ready: str | None
    """``None`` if callable, else why not (from the provider)."""

    def as_json(self) -> dict[str, Any]:
        from polyroute.cli.render import safe_url

        return {
            "name": self.name, "type": self.type, "template": self.template,
            "base_url": safe_url(self.base_url) if self.base_url else None,
            "key": {"state": self.key.state, "source": self.key.source},
            "ready": self.ready is None, "not_ready_reason": self.ready,
        }


def provider_row(router: Router, name: str, provider: Provider) -> ProviderRow:
    from polyroute.errors import PolyrouteError

    pcfg = router.config.providers.get(name)
    try:
        base_url: str | None = provider.base_url
    except PolyrouteError:
        base_url = None
    return ProviderRow(
        name=name, type=provider.type_name, template=pcfg.template if pcfg else None,
        base_url=base_url, key=key_status(provider), ready=provider.is_configured(),
    )


def config_refs(cfg: PolyrouteConfig) -> list[tuple[str, str]]:
    """Every ``provider:model`` the config names, with the field that names it."""
    refs: list[tuple[str, str]] = []
    for name, agent in cfg.agents.items():
        if agent.model:
            refs.append((agent.model, f"agents.{name}.model"))
        refs += [(f, f"agents.{name}.fallbacks[{i}]") for i, f in enumerate(agent.fallbacks)]
    for rname, route in cfg.routes.items():
        for t, tier in enumerate(route.tiers):
            refs += [(m, f"routes.{rname}.tiers[{t}][{i}]") for i, m in enumerate(tier)]
    if cfg.default and cfg.default not in cfg.routes:
        refs.append((cfg.default, "default"))
    return refs


def model_problems(router: Router) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """``(errors, warnings)`` the router's own checks leave out.

    Errors: a ``models:`` override naming a provider that does not exist (it
    would silently do nothing). Warnings: a referenced model that the provider
    type's catalog does not list (its capabilities and prices are unknown).
    """
    from polyroute.errors import ConfigError
    from polyroute.routing.plan import Deployment, parse_model_ref

    cfg = router.config
    errors: list[dict[str, str]] = []
    warnings: list[dict[str, str]] = []
    for key in cfg.models:
        field = f"models.{key}"
        try:
            pname, _ = parse_model_ref(key)
        except ConfigError as exc:
            errors.append({"field": field, "problem": exc.reason, "fix": exc.fix or ""})
            continue
        if router.provider(pname) is None:
            known = ", ".join(sorted(cfg.providers)) or "none configured"
            errors.append({
                "field": field,
                "problem": f"'{key}' names provider '{pname}', which is not configured "
                           f"(providers: {known}) and is no installed type or template",
                "fix": f"add providers.{pname} or fix the provider name",
            })
    by_type: dict[str, list[str]] = {}
    for ptype, model in router.registry.models:
        by_type.setdefault(ptype, []).append(model)
    seen: set[str] = set()
    for ref, field in config_refs(cfg):
        pname, model = parse_model_ref(ref)
        provider = router.provider(pname)
        if provider is None or ref in seen or _from_template(router, pname):
            continue  # a template's models (groq, vllm, ...) are not its type's catalog
        seen.add(ref)
        listed = by_type.get(provider.type_name)
        if not listed or router.model_info(Deployment(pname, model)) is not None:
            continue
        close = difflib.get_close_matches(model, listed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"add it under models: '{pname}/{model}'"
        warnings.append({
            "field": field,
            "problem": f"model '{model}' is not in the {provider.type_name} catalog "
                       "(capabilities and prices unknown)",
            "fix": hint,
        })
    return errors, warnings


def _from_template(router: Router, name: str) -> bool:
    pcfg = router.config.providers.get(name)
    if pcfg is not None:
        return pcfg.template is not None
    return name in router.registry.templates and name not in router.registry.provider_types


def describe_params(params: GenerationParams) -> dict[str, Any]:
    data = params.model_dump(exclude_none=True)
    extra = data.pop("extra", {}) or {}
    data.update(extra)
    return data


def catalog(router: Router) -> list[tuple[ModelInfo, str]]:
    """Unique catalog entries (aliases folded) plus the config's ``models:`` overrides,
    each with where it came from: ``catalog`` or ``config (provider NAME)``."""
    from polyroute.errors import ConfigError
    from polyroute.routing.plan import Deployment, parse_model_ref

    entries: dict[tuple[str, str], tuple[ModelInfo, str]] = {}
    for entry in router.registry.models.values():
        entries[(entry.provider_type, entry.model)] = (entry, "catalog")
    for key in router.config.models:
        try:
            pname, model = parse_model_ref(key)
        except ConfigError:
            continue
        provider = router.provider(pname)
        if provider is None:
            continue
        info = router.model_info(Deployment(pname, model))
        if info is not None:
            entries[(f"{provider.type_name}@{pname}", info.model)] = (info, f"config ({pname})")
    return sorted(entries.values(), key=lambda e: (e[0].provider_type, e[0].model, e[1]))
