"""``/api/admin/providers``: CRUD, connectivity tests, the registry's system entries."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import func, select

from polyroute.admin import Registry, check_revision
from polyroute.admin.api import views
from polyroute.admin.api.auth import Admin, Operator, Viewer, registry
from polyroute.admin.api.common import (
    IfMatch,
    Paging,
    actor,
    if_match,
    listed,
    request_id,
    set_etag,
)
from polyroute.admin.api.errors import ApiError
from polyroute.admin.api.schemas import (
    Page,
    ProviderIn,
    ProviderOut,
    ProviderPatch,
    ProviderStatus,
    RegistryStatus,
    SyncResult,
    TestResult,
)
from polyroute.admin.api.settings import AdminSettings, settings_of
from polyroute.admin.errors import (
    CredentialError,
    ReadOnlyEntryError,
    RegistryConflictError,
    RegistryValidationError,
)
from polyroute.admin.models import AuditHead, Credential, Model, Provider, ProviderTemplate
from polyroute.admin.secrets import check_not_masked
from polyroute.admin.ssrf import check_endpoint
from polyroute.admin.testing_conn import run_provider_test

__all__ = ["router", "test_provider", "write_provider"]

router = APIRouter(tags=["providers"])
OPERATOR_FIELDS = {"status"}
"""What an operator may change on a provider or model: enable, disable, testing."""


def _secret_of(body: Any) -> str | None:
    key = getattr(body, "api_key", None)
    if key is None:
        return None
    value: str = key.get_secret_value()
    # before anything is stored: a re-sent mask would replace the real key with '****'
    check_not_masked(value, field="api_key")
    return value


def _check_endpoint(settings: AdminSettings, url: str | None) -> None:
    if url:
        check_endpoint(url, field="api_endpoint", allow_private=settings.allow_private_endpoints,
                       resolve=settings.resolver)


def _check_credential_ref(reg: Registry, auth: dict[str, Any] | None) -> None:
    ref = (auth or {}).get("credential")
    if not ref or str(ref).startswith("env:"):
        return
    try:
        reg.masked_credential(str(ref))
    except CredentialError:
        # a secret typed here would be stored in clear: only a stored name or env: passes
        raise RegistryValidationError(
            "auth_config.credential names no stored credential", file="registry",
            field="auth_config.credential",
            fix="send the key as api_key (stored encrypted), or an env:NAME reference",
        ) from None


def store_key(reg: Registry, name: str, value: str, who: str, rid: str | None) -> None:
    with reg.reading() as session:
        version = session.execute(
            select(Credential.version).where(Credential.name == name)).scalar_one_or_none()
    reg.put_credential(name, value, actor=who, version=version, request_id=rid)


def write_provider(request: Request, body: ProviderIn, extra: dict[str, Any] | None = None
                   ) -> Provider:
    """Create a provider from ``body`` (plus ``extra`` fields, e.g. a template's)."""
    reg, settings = registry(request), settings_of(request)
    secret = _secret_of(body)
    data = {**(extra or {}), **body.model_dump(exclude_unset=True, exclude={"api_key"})}
    data.pop("include_default_models", None)
    data.setdefault("name", body.identifier)
    auth = dict(data.get("auth_config") or {})
    if secret is not None:
        if body.auth_config is not None and body.auth_config.credential:
            raise RegistryValidationError(
                "give api_key or auth_config.credential, not both", file="registry",
                field="api_key", fix="leave auth_config.credential out when sending api_key")
        auth["credential"] = views.provider_credential_name(body.identifier)
    else:
        _check_credential_ref(reg, auth)
    data["auth_config"] = {k: v for k, v in auth.items() if v is not None}
    _check_endpoint(settings, data.get("api_endpoint"))
    who, rid = actor(request), request_id(request)
    row: Provider = reg.create("provider", data, actor=who, request_id=rid)
    if secret is not None:
        try:
            store_key(reg, auth["credential"], secret, who, rid)
        except Exception:
            # a provider whose key could not be stored must not stay half-made
            reg.delete("provider", row.identifier, version=row.version, actor=who,
                       request_id=rid)
            raise
    return row


def _view(reg: Registry, row: Provider) -> ProviderOut:
    return views.provider(row, views.credential_masks(reg))


@router.post("/providers", status_code=201, response_model=ProviderOut,
             summary="Create a provider (admin)")
def create_provider(request: Request, response: Response, body: ProviderIn, _: Admin
                    ) -> ProviderOut:
    row = write_provider(request, body)
    reg = registry(request)
    set_etag(response, row.version)
    response.headers["Location"] = f"/api/admin/providers/{row.identifier}"
    return _view(reg, reg.get("provider", row.identifier))


@router.get("/providers", response_model=Page[ProviderOut], summary="List providers")
def list_providers(
    request: Request, _: Viewer, paging: Paging,
    status: Annotated[ProviderStatus | None, Query()] = None,
    capability: Annotated[str | None, Query(max_length=100)] = None,
    provider_type: Annotated[str | None, Query(max_length=100)] = None,
    system: Annotated[bool | None, Query(description="Only system (file/plugin) entries, "
                                                     "or only registry ones")] = None,
) -> Page[ProviderOut]:
    reg = registry(request)
    rows, total = reg.list_page("provider", limit=paging.limit, offset=paging.offset,
                                status=status, capabilities=capability,
                                provider_type=provider_type, is_system=system)
    masks = views.credential_masks(reg)
    return listed(rows, total, paging, lambda r: views.provider(r, masks))


@router.get("/providers/registry-status", response_model=RegistryStatus,
            summary="The registry's schema revision and row counts")
def registry_status(request: Request, _: Viewer) -> RegistryStatus:
    reg, settings = registry(request), settings_of(request)
    bind = reg.sessions.kw["bind"]
    revision = check_revision(bind)

    def count(q: Any) -> int:
        return int(session.execute(q).scalar_one())

    with reg.reading() as session:
        head = session.get(AuditHead, 1)
        out = RegistryStatus(
            database=bind.url.render_as_string(hide_password=True), revision=revision,
            providers=count(select(func.count()).select_from(Provider)),
            system_providers=count(select(func.count()).select_from(Provider)
                                   .where(Provider.is_system)),
            models=count(select(func.count()).select_from(Model)),
            templates=count(select(func.count()).select_from(ProviderTemplate)),
            system_templates=count(select(func.count()).select_from(ProviderTemplate)
                                   .where(ProviderTemplate.is_system)),
            audit_rows=head.seq if head is not None else 0,
            allow_private_endpoints=settings.allow_private_endpoints,
            last_refresh=settings.last_refresh,
        )
    return out


@router.post("/providers/refresh-registry", response_model=SyncResult,
             summary="Re-read the config file's providers and the plugins' templates (admin)")
def refresh_registry(request: Request, _: Admin) -> SyncResult:
    from polyroute.admin import sync_system_entries
    from polyroute.config import load_config

    settings = settings_of(request)
    config = load_config(settings.config_path) if settings.config_path else None
    counts = sync_system_entries(registry(request), config,
                                 plugins=settings.plugin_registry(), actor=actor(request))
    settings.last_refresh = datetime.now(UTC)
    return SyncResult(**counts)


@router.get("/providers/{provider_id}", response_model=ProviderOut, summary="Read a provider")
def get_provider(request: Request, response: Response, provider_id: str, _: Viewer
                 ) -> ProviderOut:
    reg = registry(request)
    row = reg.get("provider", provider_id)
    set_etag(response, row.version)
    return _view(reg, row)


@router.put("/providers/{provider_id}", response_model=ProviderOut,
            summary="Change a provider (If-Match; operators: status only)")
def update_provider(request: Request, response: Response, provider_id: str,
                    body: ProviderPatch, who: Operator, if_match_: IfMatch = None
                    ) -> ProviderOut:
    reg, settings = registry(request), settings_of(request)
    changes = body.model_dump(exclude_unset=True, exclude={"api_key"})
    if not who.may("admin") and (set(changes) - OPERATOR_FIELDS or body.api_key is not None):
        raise ApiError(403, "forbidden", "operators may only change a provider's status",
                       details={"role": who.role, "required": "admin"},
                       suggestions=["send only {\"status\": ...}, or ask an admin"])
    version = if_match(if_match_)
    secret = _secret_of(body)
    current = reg.get("provider", provider_id)
    if "auth_config" in changes:
        changes["auth_config"] = {k: v for k, v in (changes["auth_config"] or {}).items()
                                  if v is not None}
    system = False
    if secret is not None:
        if current.is_system:
            raise ReadOnlyEntryError(
                f"provider '{provider_id}' is a system entry (from the config file or a "
                "plugin), read-only here", fix="change its key where it is defined")
        auth = dict(changes.get("auth_config", current.auth_config) or {})
        auth["credential"] = views.provider_credential_name(provider_id)
        changes["auth_config"] = auth
        # a new key is a change of the provider: its version moves on, so an admin
        # working from the old ETag gets a 412 instead of overwriting this key
        changes["updated_at"] = datetime.now(UTC)
        system = True  # (updated_at is not a field clients may set; checked above)
    elif "auth_config" in changes:
        _check_credential_ref(reg, changes["auth_config"])
    if "api_endpoint" in changes:
        _check_endpoint(settings, changes["api_endpoint"])
    who_, rid = actor(request), request_id(request)
    row = reg.update("provider", provider_id, changes, version=version, actor=who_,
                     request_id=rid, system=system)
    if secret is not None:
        store_key(reg, views.provider_credential_name(provider_id), secret, who_, rid)
        row = reg.get("provider", provider_id)
    set_etag(response, row.version)
    return _view(reg, row)


@router.delete("/providers/{provider_id}", status_code=204, response_class=Response,
               summary="Delete a provider and its models (admin, If-Match)")
def delete_provider(request: Request, provider_id: str, _: Admin,
                    if_match_: IfMatch = None) -> Response:
    reg = registry(request)
    version = if_match(if_match_)
    who, rid = actor(request), request_id(request)
    reg.delete("provider", provider_id, version=version, actor=who, request_id=rid)
    name = views.provider_credential_name(provider_id)
    with reg.reading() as session:
        cred = session.execute(
            select(Credential.version).where(Credential.name == name)).scalar_one_or_none()
    if cred is not None:
        reg.delete_credential(name, version=cred, actor=who)
    return Response(status_code=204)


def test_provider(request: Request, provider_id: str, model: str | None) -> TestResult:
    """Run the checks under the per-provider test limit; store them on the provider."""
    reg, settings = registry(request), settings_of(request)
    reg.get("provider", provider_id)  # 404 before the limiter counts anything
    wait = settings.limiter.take(provider_id)
    if wait is not None:
        raise ApiError(429, "rate_limited",
                       f"provider '{provider_id}' was tested {settings.limiter.limit} times "
                       f"in the last {settings.limiter.window:.0f} s",
                       details={"retryAfter": round(wait, 1)},
                       headers={"Retry-After": str(max(1, round(wait)))},
                       suggestions=[f"retry in {max(1, round(wait))} s"])
    result = run_provider_test(reg, provider_id, model=model,
                               plugins=settings.plugin_registry(),
                               allow_private=settings.allow_private_endpoints,
                               resolve=settings.resolver, timeout=settings.test_timeout_s)
    out = TestResult.model_validate(result)
    # a provider test is the provider's last test, a model test the model's
    kind, key = ("provider", provider_id) if model is None else ("model", f"{provider_id}:{model}")
    for _attempt in range(3):
        row = reg.get(kind, key)
        try:
            reg.update(kind, key, {"last_tested": out.tested_at, "test_result": result},
                       version=row.version, actor=actor(request),
                       request_id=request_id(request), system=True)
            break
        except RegistryConflictError:  # a concurrent edit moved the version: read again
            continue
    return out


@router.post("/providers/{provider_id}/test", response_model=TestResult,
             summary="Test connectivity, auth and the default model (operator)")
def post_provider_test(request: Request, provider_id: str, _: Operator) -> TestResult:
    return test_provider(request, provider_id, None)

