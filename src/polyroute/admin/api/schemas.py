"""The admin API's request and response bodies (the OpenAPI schema comes from these).

Inputs forbid unknown fields (a typo is a 422 naming the field, not a silent
no-op). Secrets are write-only: ``api_key`` is accepted on writes and never
appears in an output model; outputs show a credential as ``****`` plus at most
its last four characters.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, SecretStr

__all__ = [
    "AgentIn", "AgentOut", "AgentPatch", "ApplyTemplate", "AuditEntry", "AuditVerify",
    "BudgetIn", "BudgetOut", "BudgetPatch", "ChangeIn", "ChangeOut", "CredentialView",
    "ErrorBody", "ErrorResponse",
    "ModelIn", "ModelOut", "ModelPatch", "Page", "ProviderIn", "ProviderOut", "ProviderPatch",
    "RegistryStatus", "RouteIn", "RouteOut", "RoutePatch", "SyncResult", "TemplateIn",
    "TemplateOut", "TemplatePatch", "TestResult", "TokenIn", "TokenOut", "TokenRotate",
    "TokenRotated", "TokenSecret", "TokenStatus",
]

T = TypeVar("T")
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"
"""Identifiers appear in URL paths: no slash, no space, no colon."""
Short = Field(min_length=1, max_length=200)
Json = dict[str, Any]
INT32 = 2**31 - 1


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Json = Field(default_factory=dict)
    field: str | None = None
    suggestions: list[str] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    """Every error the API returns has this shape."""

    error: ErrorBody
    timestamp: str
    requestId: str


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int
    next_offset: int | None = None


# --- providers ------------------------------------------------------------------------------

AuthMethod = Literal["api_key", "oauth2", "aws_iam", "custom"]
ProviderStatus = Literal["active", "inactive", "testing"]


class AuthConfig(_In):
    credential: str | None = Field(None, max_length=200)
    """A stored credential's name or an ``env:NAME`` reference (never the secret itself)."""
    headers: dict[str, str] | None = None
    """Header templates such as ``{"Authorization": "Bearer {{apiKey}}"}``."""


class _ProviderFields(_In):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    provider_type: str | None = Field(None, min_length=1, max_length=100)
    template: str | None = Field(None, min_length=1, max_length=100)
    api_endpoint: str | None = Field(None, min_length=1, max_length=2000)
    auth_method: AuthMethod | None = None
    auth_config: AuthConfig | None = None
    capabilities: list[str] | None = None
    settings: Json | None = None
    status: ProviderStatus | None = None
    api_key: SecretStr | None = Field(None, min_length=1, max_length=4000, json_schema_extra={
        "writeOnly": True})
    """The provider's key: stored encrypted, never returned. Leave it out to keep the
    stored one; a masked value (``****abcd``) is refused."""


class ProviderIn(_ProviderFields):
    identifier: str = Field(pattern=NAME)
    name: str | None = Field(None, min_length=1, max_length=200)


class ProviderPatch(_ProviderFields):
    """Only the fields sent change. Operators may send ``status`` alone (enable/disable)."""


class CredentialView(BaseModel):
    set: bool
    masked: str | None = None
    """``****`` and at most the last four characters, or the ``env:NAME`` reference."""


class ProviderOut(BaseModel):
    id: str
    name: str
    description: str
    provider_type: str | None
    template: str | None
    api_endpoint: str | None
    auth_method: str
    auth_config: Json
    credential: CredentialView
    capabilities: list[Any]
    settings: Json
    status: str
    is_system: bool
    origin: str | None
    created_by: str | None
    created_at: datetime | None
    updated_at: datetime | None
    last_tested: datetime | None
    test_result: Json | None
    version: int


# --- models ---------------------------------------------------------------------------------

ModelStatus = Literal["active", "inactive", "deprecated"]


class _ModelFields(_In):
    context_length: int | None = Field(None, gt=0, le=INT32)
    max_output_tokens: int | None = Field(None, gt=0, le=INT32)
    capabilities: list[str] | None = None
    pricing_info: dict[str, float] | None = None
    """USD per million tokens: ``input``, ``output``, ``cache_read``, ``cache_write``."""
    status: ModelStatus | None = None
    is_default: bool | None = None


class ModelIn(_ModelFields):
    name: str = Field(min_length=1, max_length=200)


class ModelPatch(_ModelFields):
    name: str | None = Field(None, min_length=1, max_length=200)


class ModelOut(BaseModel):
    id: int
    provider: str
    name: str
    context_length: int | None
    max_output_tokens: int | None
    capabilities: list[Any] | None
    pricing_info: Json | None
    status: str
    is_default: bool
    created_at: datetime | None
    updated_at: datetime | None
    last_tested: datetime | None = None
    test_result: Json | None = None
    """The last ``POST /models/{id}/test``: its checks (kept since revision 0003)."""
    version: int


class TestResult(BaseModel):
    provider: str
    model: str | None
    ok: bool
    tested_at: datetime
    checks: list[Json]


# --- templates ------------------------------------------------------------------------------


class _TemplateFields(_In):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=5000)
    provider_config: Json | None = None
    """Provider fields the template presets: provider_type, api_endpoint, auth_method,
    auth_config, capabilities, settings."""
    default_models: list[Json] | None = None
    """Models created with a provider made from the template (``name`` and model fields)."""


class TemplateIn(_TemplateFields):
    identifier: str = Field(pattern=NAME)


class TemplatePatch(_TemplateFields):
    pass


class TemplateOut(BaseModel):
    id: str
    name: str
    description: str
    provider_config: Json
    default_models: list[Any]
    is_system: bool
    origin: str | None
    updated_at: datetime | None
    version: int


class ApplyTemplate(_ProviderFields):
    """A provider from a template: its preset fields, with these customisations on top."""

    identifier: str = Field(pattern=NAME)
    include_default_models: bool = True


class SyncResult(BaseModel):
    created: int
    updated: int
    removed: int


class RegistryStatus(BaseModel):
    database: str
    revision: str
    providers: int
    system_providers: int
    models: int
    templates: int
    system_templates: int
    audit_rows: int
    allow_private_endpoints: bool
    last_refresh: datetime | None


# --- routes, agents, budgets ----------------------------------------------------------------


class RoutePatch(_In):
    strategy: str | None = Field(None, min_length=1, max_length=100)
    params: Json | None = None
    status: Literal["active", "inactive"] | None = None
    tiers: list[list[str]] | None = None


class RouteIn(RoutePatch):
    name: str = Field(pattern=NAME)
    tiers: list[list[str]] | None = Field(None, min_length=1)


class RouteOut(BaseModel):
    name: str
    strategy: str
    params: Json
    status: str
    tiers: list[list[str]]
    updated_at: datetime | None
    version: int


class AgentPatch(_In):
    model: str | None = Field(None, min_length=1, max_length=300)
    route: str | None = Field(None, min_length=1, max_length=200)
    params: Json | None = None
    tags: dict[str, str] | None = None
    fallbacks: list[str] | None = None


class AgentIn(AgentPatch):
    name: str = Field(pattern=NAME)


class AgentOut(BaseModel):
    name: str
    model: str | None
    route: str | None
    params: Json
    tags: Json
    fallbacks: list[str]
    updated_at: datetime | None
    version: int


class BudgetPatch(_In):
    scope: str | None = Field(None, min_length=1, max_length=300)
    usd: float | None = Field(None, gt=0, le=1e12)
    per: str | None = Field(None, min_length=1, max_length=20)
    on_exceed: str | None = Field(None, min_length=1, max_length=20)
    timezone: str | None = Field(None, min_length=1, max_length=100)
    alerts: list[float] | None = None


class BudgetIn(BudgetPatch):
    name: str = Field(pattern=NAME)
    usd: float = Field(gt=0, le=1e12)


class BudgetOut(BaseModel):
    name: str
    scope: str
    usd: float
    per: str
    on_exceed: str
    timezone: str
    alerts: list[Any]
    updated_at: datetime | None
    version: int


# --- access and audit -----------------------------------------------------------------------


class TokenIn(_In):
    user: str = Field(pattern=NAME)
    role: Literal["admin", "operator", "viewer"] = "viewer"
    """The user's role; a new user is created with it, an existing one must match."""
    expires_in_days: int | None = Field(None, gt=0, le=3650)


class TokenOut(BaseModel):
    token_id: str
    user: str
    role: str
    created_at: datetime | None
    expires_at: datetime | None
    revoked: bool
    version: int


class TokenSecret(TokenOut):
    secret: str
    """Shown once: only its hash is stored."""


class TokenStatus(TokenOut):
    rotated_at: datetime | None
    previous_valid_until: datetime | None
    """Until when the secret replaced by the last rotation still works (``None``: it does not)."""


class TokenRotate(_In):
    grace_seconds: int = Field(3600, ge=0, le=30 * 86400)
    """How long the old secret keeps working (0: it stops at once; at most 30 days)."""


class TokenRotated(TokenStatus):
    secret: str
    """The new secret, shown in this response only (a retry with the same
    ``Idempotency-Key`` within 24 hours gets it again, and rotates nothing)."""


# --- two-person approval --------------------------------------------------------------------


class ChangeIn(_In):
    kind: Literal["provider", "model", "template", "route", "agent", "budget", "credential"]
    action: Literal["create", "update", "delete", "put_credential"]
    key: str = Field(min_length=1, max_length=300)
    """The row the change is for: its identifier (``provider:model`` for a model)."""
    data: Json = Field(default_factory=dict)
    """The fields as a create or update would send them (never a secret)."""
    base_version: int | None = Field(None, ge=1, le=INT32)
    """The row's version (its ETag) the change is based on; approving fails once it moved."""
    value: SecretStr | None = None
    """A credential's new value (``put_credential`` only): stored encrypted, never shown."""


class ChangeOut(BaseModel):
    id: int
    kind: str
    key: str
    action: str
    data: Json
    carries_secret: bool
    base_version: int | None
    reason: str
    status: str
    requested_by: str
    requested_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    version: int


class AuditEntry(BaseModel):
    seq: int
    at: str
    actor: str
    request_id: str | None
    action: str
    target_type: str
    target_key: str
    before: Json | None
    after: Json | None
    hash: str
    prev_hash: str


class AuditVerify(BaseModel):
    ok: bool
    rows: int
    seq: int | None
    problem: str | None
    detail: str
