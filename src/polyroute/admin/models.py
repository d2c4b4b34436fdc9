"""The registry's tables as typed SQLAlchemy 2 models.

Every mutable row carries ``version`` (SQLAlchemy's version counter: an UPDATE
whose row moved on matches nothing and fails), so two admins never silently
overwrite each other. Collections (a provider's models, a route's tiers and
their members, an agent's fallbacks) are rows of their own, never a JSON blob
rewritten whole. Enumerations are strings with CHECK constraints so SQLite and
PostgreSQL enforce the same values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

__all__ = [
    "AUTH_METHODS",
    "MODEL_STATUSES",
    "PROVIDER_STATUSES",
    "ROLES",
    "Agent",
    "AgentFallback",
    "ApiToken",
    "AuditHead",
    "AuditRow",
    "Base",
    "Budget",
    "Credential",
    "Model",
    "PendingChange",
    "Provider",
    "ProviderTemplate",
    "Route",
    "RouteTier",
    "TierMember",
    "User",
]

AUTH_METHODS = ("api_key", "oauth2", "aws_iam", "custom")
PROVIDER_STATUSES = ("active", "inactive", "testing")
MODEL_STATUSES = ("active", "inactive", "deprecated")
ROUTE_STATUSES = ("active", "inactive")
ROLES = ("admin", "operator", "viewer")

# Named constraints so Alembic migrations can refer to them on both databases.
_NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=_NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class _Versioned:
    """Stable id, optimistic version, who and when."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        # SQLAlchemy bumps it on every UPDATE and adds "AND version = <read>"
        return {"version_id_col": cls.version}

    @property
    def key(self) -> str:
        """The name the registry API and errors use for this row."""
        return str(self.id)


class Provider(_Versioned, Base):
    __tablename__ = "providers"
    __table_args__ = (
        CheckConstraint(_in("auth_method", AUTH_METHODS), name="auth_method"),
        CheckConstraint(_in("status", PROVIDER_STATUSES), name="status"),
    )
    identifier: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    provider_type: Mapped[str | None] = mapped_column(String(100))
    """The plugin type (openai, anthropic...); or give ``template``."""
    template: Mapped[str | None] = mapped_column(String(100))
    api_endpoint: Mapped[str | None] = mapped_column(String(2000))
    auth_method: Mapped[str] = mapped_column(String(20), default="api_key")
    auth_config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Non-secret auth settings: ``credential`` (a credential's name or an ``env:`` ref)
    and ``headers`` templates such as ``{"Authorization": "Bearer {{apiKey}}"}``."""
    capabilities: Mapped[list[Any]] = mapped_column(default=list)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Other ProviderConfig fields (api_version, organization, rpm, tpm, extra...)."""
    status: Mapped[str] = mapped_column(String(20), default="active")
    is_system: Mapped[bool] = mapped_column(Boolean, default=False)
    origin: Mapped[str | None] = mapped_column(String(500))
    """Where a system entry comes from (a config file, a plugin)."""
    last_tested: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    test_result: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    models: Mapped[list[Model]] = relationship(
        back_populates="provider", cascade="all, delete-orphan", order_by="Model.id"
    )

    @property
    def key(self) -> str:
        return self.identifier

    def __repr__(self) -> str:
        return f"Provider({self.identifier!r}, v{self.version}, {self.status})"


class Model(_Versioned, Base):
    __tablename__ = "models"
    __table_args__ = (
        UniqueConstraint("provider_id", "name", name="uq_models_provider_name"),
        CheckConstraint(_in("status", MODEL_STATUSES), name="status"),
        CheckConstraint("context_length IS NULL OR context_length > 0", name="context_length"),
        # one default model per provider, enforced by the database itself
        Index("uq_models_one_default", "provider_id", unique=True,
              sqlite_where=text("is_default"), postgresql_where=text("is_default")),
    )
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    context_length: Mapped[int | None] = mapped_column(Integer)
    max_output_tokens: Mapped[int | None] = mapped_column(Integer)
    capabilities: Mapped[list[Any] | None] = mapped_column(JSON)
    pricing_info: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """USD per million tokens: ``input``, ``output``, ``cache_read``, ``cache_write``."""
    status: Mapped[str] = mapped_column(String(20), default="active")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    last_tested: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    test_result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The last ``POST /models/{id}/test`` (revision 0003): its checks, never a secret."""

    provider: Mapped[Provider] = relationship(back_populates="models")

    @property
    def key(self) -> str:
        return f"{self.provider.identifier}:{self.name}"

    def __repr__(self) -> str:
        return f"Model({self.name!r}, v{self.version}, {self.status})"


class ProviderTemplate(_Versioned, Base):
    __tablename__ = "provider_templates"
    identifier: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    provider_config: Mapped[dict[str, Any]] = mapped_column(default=dict)
    default_models: Mapped[list[Any]] = mapped_column(default=list)
    is_system: Mapped[bool] = mapped_column(Boolean, default=False)
    origin: Mapped[str | None] = mapped_column(String(500))

    @property
    def key(self) -> str:
        return self.identifier

    def __repr__(self) -> str:
        return f"ProviderTemplate({self.identifier!r}, v{self.version})"


class Credential(_Versioned, Base):
    """An encrypted secret. ``ciphertext`` is a MultiFernet token; only ``last_four`` shows."""

    __tablename__ = "credentials"
    name: Mapped[str] = mapped_column(String(200), unique=True)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    last_four: Mapped[str] = mapped_column(String(4), default="")
    is_env_ref: Mapped[bool] = mapped_column(Boolean, default=False)
    """The value is an ``env:NAME`` reference (still stored encrypted)."""

    @property
    def key(self) -> str:
        return self.name

    def __repr__(self) -> str:  # never the ciphertext, never the value
        return f"Credential({self.name!r}, v{self.version}, ****{self.last_four})"


class Route(_Versioned, Base):
    __tablename__ = "routes"
    __table_args__ = (CheckConstraint(_in("status", ROUTE_STATUSES), name="status"),)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    strategy: Mapped[str] = mapped_column(String(100), default="priority")
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="active")
    tiers: Mapped[list[RouteTier]] = relationship(
        back_populates="route", cascade="all, delete-orphan", order_by="RouteTier.position"
    )

    @property
    def key(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"Route({self.name!r}, v{self.version})"


class RouteTier(Base):
    __tablename__ = "route_tiers"
    __table_args__ = (UniqueConstraint("route_id", "position", name="uq_route_tiers_position"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("routes.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    route: Mapped[Route] = relationship(back_populates="tiers")
    members: Mapped[list[TierMember]] = relationship(
        back_populates="tier", cascade="all, delete-orphan", order_by="TierMember.position"
    )


class TierMember(Base):
    __tablename__ = "route_tier_members"
    __table_args__ = (UniqueConstraint("tier_id", "model_ref", name="uq_tier_members_ref"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tier_id: Mapped[int] = mapped_column(ForeignKey("route_tiers.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    model_ref: Mapped[str] = mapped_column(String(300))
    tier: Mapped[RouteTier] = relationship(back_populates="members")


class Agent(_Versioned, Base):
    __tablename__ = "agents"
    __table_args__ = (
        CheckConstraint("(model IS NULL) <> (route IS NULL)", name="model_xor_route"),
    )
    name: Mapped[str] = mapped_column(String(200), unique=True)
    model: Mapped[str | None] = mapped_column(String(300))
    route: Mapped[str | None] = mapped_column(String(200))
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tags: Mapped[dict[str, Any]] = mapped_column(default=dict)
    fallbacks: Mapped[list[AgentFallback]] = relationship(
        back_populates="agent", cascade="all, delete-orphan", order_by="AgentFallback.position"
    )

    @property
    def key(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"Agent({self.name!r}, v{self.version})"


class AgentFallback(Base):
    __tablename__ = "agent_fallbacks"
    __table_args__ = (UniqueConstraint("agent_id", "model_ref", name="uq_agent_fallbacks_ref"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    model_ref: Mapped[str] = mapped_column(String(300))
    agent: Mapped[Agent] = relationship(back_populates="fallbacks")


class Budget(_Versioned, Base):
    __tablename__ = "budgets"
    __table_args__ = (CheckConstraint("usd > 0", name="usd_positive"),)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    scope: Mapped[str] = mapped_column(String(300), default="global")
    usd: Mapped[float] = mapped_column(Float)
    per: Mapped[str] = mapped_column(String(20), default="day")
    on_exceed: Mapped[str] = mapped_column(String(20), default="block")
    timezone: Mapped[str] = mapped_column(String(100), default="UTC")
    alerts: Mapped[list[Any]] = mapped_column(default=lambda: [0.5, 0.8, 1.0])

    @property
    def key(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"Budget({self.name!r}, {self.scope}, v{self.version})"


class User(_Versioned, Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", ROLES), name="role"),)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20), default="viewer")
    tokens: Mapped[list[ApiToken]] = relationship(
        back_populates="user", cascade="all, delete-orphan"
    )

    @property
    def key(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"User({self.name!r}, {self.role})"


class ApiToken(Base):
    """An API token: only its SHA-256 is stored; ``token_id`` stays stable across rotations."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    token_id: Mapped[str] = mapped_column(String(40), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    previous_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    """The secret before the last rotation, valid until ``previous_expires_at``."""
    previous_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    rotation_key: Mapped[str | None] = mapped_column(String(200))
    """The Idempotency-Key of the last rotation: a retry with it gets the same secret."""
    rotation_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    """That rotation's secret, encrypted like a credential, kept for the retry window."""
    user: Mapped[User] = relationship(back_populates="tokens")
    __mapper_args__ = {"version_id_col": version}

    @property
    def key(self) -> str:
        return self.token_id

    def __repr__(self) -> str:
        return f"ApiToken({self.token_id!r}, revoked={self.revoked})"


class AuditRow(Base):
    """One audited change. ``body`` is the canonical JSON that ``hash`` covers."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    request_id: Mapped[str | None] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))
    target_type: Mapped[str] = mapped_column(String(50))
    target_key: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's head: one row, locked by every writer, so the chain never forks."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    hash: Mapped[str] = mapped_column(String(64))


PENDING_STATUSES = ("pending", "approved", "rejected")


class PendingChange(Base):
    """A critical change waiting for a second admin (two-person approval).

    ``data`` holds the change as it would be applied (never a secret: a credential's
    new value waits encrypted in ``secret``); ``base_version`` is the row's version
    when it was proposed, so approving a proposal the row has moved on from fails.
    """

    __tablename__ = "pending_changes"
    __table_args__ = (CheckConstraint(_in("status", PENDING_STATUSES), name="status"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(50))
    key: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(20))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    base_version: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(300), default="")
    status: Mapped[str] = mapped_column(String(20), default="pending")
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:  # never the secret
        return f"PendingChange(#{self.id} {self.action} {self.kind} {self.key!r}, {self.status})"
