"""The registry as a config source: rows in, the same ``PolyrouteConfig`` a file gives out.

Precedence (docs/admin.md): the file (or any base config) supplies everything
else — retry, timeouts, cache, state, pricing — and its providers and
templates, which ``sync_system_entries`` mirrors into the registry as
read-only system rows so their names stay taken. Registry entries are added
to the file's; where a name exists in both (possible only if the file was
never synced) the registry entry wins for that name. Inactive providers and
routes are left out.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from polyroute.admin.credentials import CredentialsMixin
from polyroute.admin.errors import CredentialError
from polyroute.admin.models import Agent, Budget, Credential, Provider, ProviderTemplate, Route
from polyroute.admin.oauth2 import oauth2_token
from polyroute.admin.secrets import KeyRing
from polyroute.admin.validate import (
    AWS_IAM_KEYS,
    _build,
    agent_config,
    budget_config,
    model_override,
    provider_config,
    render_headers,
    route_config,
)
from polyroute.config.schema import PolyrouteConfig
from polyroute.plugins import PluginRegistry
from polyroute.secrets import Secret, remember

__all__ = ["registry_config", "sync_system_entries"]


def _secret(session: Session, ref: str, keys: KeyRing, where: str) -> Secret:
    if ref.startswith("env:"):
        return Secret(ref)
    row = session.execute(select(Credential).where(Credential.name == ref)).scalar_one_or_none()
    if row is None:
        raise CredentialError(
            f"{where} uses credential '{ref}', which is not in the registry",
            fix=f"store it with put_credential('{ref}', ...) or point auth_config.credential "
            "at an env:NAME reference",
        )
    value = keys.decrypt(row.ciphertext, what=f"credential '{ref}'")
    remember(value)
    return Secret(value)  # an "env:NAME" value stays a reference


def registry_config(
    source: CredentialsMixin | Any, *, base: PolyrouteConfig | None = None,
    keyring: KeyRing | None = None,
) -> PolyrouteConfig:
    """The router config from the registry (overlaying ``base``, e.g. the file's).

    ``source`` is a ``Registry``, a session factory, an engine or a URL.
    """
    from polyroute.admin import Registry

    reg = source if isinstance(source, CredentialsMixin) else Registry(source)
    if keyring is not None:
        reg.keyring = keyring
    base = base or PolyrouteConfig()
    data: dict[str, Any] = {
        name: getattr(base, name) for name in PolyrouteConfig.model_fields if name != "source"
    }
    providers, models = dict(base.providers), dict(base.models)
    routes, agents = dict(base.routes), dict(base.agents)
    budgets = {b.name or f"#{i}": b for i, b in enumerate(base.budgets)}
    with reg.reading() as session:
        for p in session.execute(
            select(Provider).options(selectinload(Provider.models)).order_by(Provider.id)
        ).scalars():
            if p.is_system or p.status == "inactive":
                continue  # system rows mirror the file, which is the source of truth
            providers[p.identifier] = _provider(session, p, reg)
            for m in p.models:
                if m.status != "inactive":
                    models[f"{p.identifier}:{m.name}"] = model_override(m, p.identifier)
        for r in session.execute(select(Route).order_by(Route.id)).scalars():
            if r.status == "active":
                routes[r.name] = route_config(r)
        for a in session.execute(select(Agent).order_by(Agent.id)).scalars():
            agents[a.name] = agent_config(a)
        for b in session.execute(select(Budget).order_by(Budget.id)).scalars():
            budgets[b.name] = budget_config(b)
    data.update(providers=providers, models=models, routes=routes, agents=agents,
                budgets=list(budgets.values()))
    config = _build(PolyrouteConfig, data, "registry")
    config.source = f"registry ({base.source})" if base.source else "registry"
    return config


def _provider(session: Session, p: Provider, reg: CredentialsMixin) -> Any:
    where = f"provider '{p.identifier}'"
    auth = p.auth_config or {}
    ref = auth.get("credential")
    api_key = _secret(session, ref, reg._keys(), where) if ref else None
    if p.auth_method == "oauth2" and api_key is not None:
        # the stored credential is the client secret; the provider's key is the token
        api_key = oauth2_token(provider=p.identifier, token_url=auth["token_url"],
                               client_id=auth["client_id"], client_secret=api_key,
                               scope=auth.get("scope"), audience=auth.get("audience"))
    templates = (p.auth_config or {}).get("headers") or {}

    def resolve(name: str) -> str:
        if name == "apiKey":
            if api_key is None:
                raise CredentialError(f"{where}: a header uses {{{{apiKey}}}} but "
                                      "auth_config.credential is not set",
                                      fix="set auth_config.credential")
            return api_key.reveal(what=f"{where} api key")
        return _secret(session, name.removeprefix("credential:"), reg._keys(), where).reveal(
            what=f"{where} header credential")

    headers = render_headers(templates, resolve)
    aws: dict[str, Secret] = {}
    if p.auth_method == "aws_iam":  # static keys from the store; none: the host's AWS chain
        aws = {f"aws_{k}": _secret(session, auth[k], reg._keys(), where)
               for k in AWS_IAM_KEYS if auth.get(k)}
    return provider_config(p, api_key=api_key, headers=headers, extra_secrets=aws)


def sync_system_entries(
    registry: Any, config: PolyrouteConfig | None = None, *,
    plugins: PluginRegistry | None = None, actor: str = "system",
) -> dict[str, int]:
    """Mirror the file's providers and the plugins' templates as read-only system rows.

    Only references are stored (``env:NAME``); a literal key in the file stays in
    the file. Returns how many rows were created, updated and removed.
    """
    counts = {"created": 0, "updated": 0, "removed": 0}
    wanted: dict[tuple[str, str], dict[str, Any]] = {}
    origin = (config.source if config else None) or "config"
    for name, pc in (config.providers if config else {}).items():
        env = pc.api_key.env_name if pc.api_key else None
        wanted[("provider", name)] = {
            "identifier": name, "name": name, "provider_type": pc.type, "template": pc.template,
            "api_endpoint": pc.base_url, "origin": origin,
            "auth_config": {"credential": f"env:{env}"} if env else {},
        }
    for t in (plugins.templates.values() if plugins else ()):
        wanted[("template", t.name)] = {
            "identifier": t.name, "name": t.name, "description": t.description,
            "provider_config": t.model_dump(mode="json", exclude={"name", "description"}),
            "origin": "plugin",
        }
    with registry.reading() as session:
        existing = {("provider", r.identifier): r for r in session.execute(
            select(Provider).where(Provider.is_system)).scalars()}
        existing.update({("template", r.identifier): r for r in session.execute(
            select(ProviderTemplate).where(ProviderTemplate.is_system)).scalars()})
    for (kind, key), fields in wanted.items():
        row = existing.get((kind, key))
        if row is None:
            registry.create(kind, fields, actor=actor, system=True)
            counts["created"] += 1
        elif any(getattr(row, k) != v for k, v in fields.items()):
            registry.update(kind, key, fields, version=row.version, actor=actor, system=True)
            counts["updated"] += 1
    for (kind, key), row in existing.items():
        if (kind, key) not in wanted:
            registry.delete(kind, key, version=row.version, actor=actor, system=True)
            counts["removed"] += 1
    return counts



