"""Registry rows as response bodies. Credentials appear only as ``CredentialView``:
whether one is set and ``****`` plus at most its last four characters."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from polyroute.admin import Registry
from polyroute.admin.api import schemas as s
from polyroute.admin.models import (
    Agent,
    ApiToken,
    AuditRow,
    Budget,
    Credential,
    Model,
    Provider,
    ProviderTemplate,
    Route,
)

__all__ = ["credential_masks", "provider_credential_name"]


def utc(value: datetime | None) -> datetime | None:
    """SQLite hands datetimes back without their zone; they were stored in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def provider_credential_name(identifier: str) -> str:
    """Where ``api_key`` sent with a provider is stored (its own credential row)."""
    return f"provider:{identifier}"


def credential_masks(reg: Registry) -> dict[str, str]:
    """Each stored credential's mask: ``****`` and at most its last four characters."""
    with reg.reading() as session:
        rows = session.execute(select(Credential.name, Credential.last_four)).all()
    return {name: f"****{last}" if last else "****" for name, last in rows}


def credential(ref: str | None, masks: dict[str, str]) -> s.CredentialView:
    if not ref:
        return s.CredentialView(set=False)
    if ref.startswith("env:"):
        return s.CredentialView(set=True, masked=ref)
    return s.CredentialView(set=ref in masks, masked=masks.get(ref))


def provider(row: Provider, masks: dict[str, str]) -> s.ProviderOut:
    auth = dict(row.auth_config or {})
    return s.ProviderOut(
        id=row.identifier, name=row.name, description=row.description or "",
        provider_type=row.provider_type, template=row.template, api_endpoint=row.api_endpoint,
        auth_method=row.auth_method, auth_config=auth,
        credential=credential(auth.get("credential"), masks),
        capabilities=list(row.capabilities or []), settings=dict(row.settings or {}),
        status=row.status, is_system=bool(row.is_system), origin=row.origin,
        created_by=row.created_by, created_at=utc(row.created_at), updated_at=utc(row.updated_at),
        last_tested=utc(row.last_tested), test_result=row.test_result, version=row.version,
    )


def model(row: Model, provider_id: str) -> s.ModelOut:
    return s.ModelOut(
        id=row.id, provider=provider_id, name=row.name, context_length=row.context_length,
        max_output_tokens=row.max_output_tokens, capabilities=row.capabilities,
        pricing_info=row.pricing_info, status=row.status, is_default=bool(row.is_default),
        created_at=utc(row.created_at), updated_at=utc(row.updated_at),
        last_tested=utc(row.last_tested), test_result=row.test_result, version=row.version,
    )


def template(row: ProviderTemplate) -> s.TemplateOut:
    return s.TemplateOut(
        id=row.identifier, name=row.name, description=row.description or "",
        provider_config=dict(row.provider_config or {}),
        default_models=list(row.default_models or []), is_system=bool(row.is_system),
        origin=row.origin, updated_at=utc(row.updated_at), version=row.version,
    )


def route(row: Route) -> s.RouteOut:
    return s.RouteOut(name=row.name, strategy=row.strategy, params=dict(row.params or {}),
                      status=row.status,
                      tiers=[[m.model_ref for m in t.members] for t in row.tiers],
                      updated_at=utc(row.updated_at), version=row.version)


def agent(row: Agent) -> s.AgentOut:
    return s.AgentOut(name=row.name, model=row.model, route=row.route,
                      params=dict(row.params or {}), tags=dict(row.tags or {}),
                      fallbacks=[f.model_ref for f in row.fallbacks],
                      updated_at=utc(row.updated_at), version=row.version)


def budget(row: Budget) -> s.BudgetOut:
    return s.BudgetOut(name=row.name, scope=row.scope, usd=row.usd, per=row.per,
                       on_exceed=row.on_exceed, timezone=row.timezone,
                       alerts=list(row.alerts or []), updated_at=utc(row.updated_at),
                       version=row.version)


def token(row: ApiToken, user: str, role: str) -> s.TokenOut:
    return s.TokenOut(token_id=row.token_id, user=user, role=role,
                      created_at=utc(row.created_at), expires_at=utc(row.expires_at),
                      revoked=bool(row.revoked), version=row.version)


def audit(row: AuditRow) -> s.AuditEntry:
    try:
        body: dict[str, Any] = json.loads(row.body)
    except ValueError:
        body = {}
    before, after = body.get("before"), body.get("after")
    return s.AuditEntry(
        seq=row.seq, at=row.at, actor=row.actor, request_id=row.request_id, action=row.action,
        target_type=row.target_type, target_key=row.target_key,
        before=before if isinstance(before, dict) else None,
        after=after if isinstance(after, dict) else None, hash=row.hash, prev_hash=row.prev_hash,
    )
