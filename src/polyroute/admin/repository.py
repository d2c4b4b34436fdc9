"""The registry's write and read paths: validated, versioned, audited.

Every mutation runs in one transaction that first takes the audit-chain lock,
checks the version the caller based it on, validates the result the way a
config file is validated, and writes the audit row; all of it commits or
none of it does.
"""

from __future__ import annotations

import builtins
import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, String, cast, func, inspect, select
from sqlalchemy.exc import (
    DataError,
    IntegrityError,
    OperationalError,
    ProgrammingError,
    StatementError,
)
from sqlalchemy.orm import Session, object_session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from polyroute.admin import validate
from polyroute.admin.audit import lock_chain, record
from polyroute.admin.db import READ_ONLY, check_revision, connect, session_factory
from polyroute.admin.errors import (
    ReadOnlyEntryError,
    RegistryConflictError,
    RegistryError,
    RegistryNotFoundError,
    RegistryValidationError,
    VersionConflictError,
)
from polyroute.admin.models import (
    AUTH_METHODS,
    Agent,
    AgentFallback,
    AuditHead,
    Base,
    Budget,
    Credential,
    Model,
    Provider,
    ProviderTemplate,
    Route,
    RouteTier,
    TierMember,
    User,
    utcnow,
)
from polyroute.secrets import Secret

__all__ = ["KINDS", "Repository", "check_version", "snapshot"]

# kind -> (model, key column); models are addressed as "provider:model".
KINDS: dict[str, tuple[type[Any], str]] = {
    "provider": (Provider, "identifier"),
    "template": (ProviderTemplate, "identifier"),
    "route": (Route, "name"),
    "agent": (Agent, "name"),
    "budget": (Budget, "name"),
    "user": (User, "name"),
    "credential": (Credential, "name"),
}
_PROTECTED = {"id", "version", "created_at", "updated_at", "created_by", "is_system", "origin",
              "ciphertext", "last_four", "provider_id"}
_RELATIONS = {"route": {"tiers"}, "agent": {"fallbacks"}}


def snapshot(row: Any) -> dict[str, Any]:
    """The row's columns (and row collections) as plain data, for the audit log."""
    data: dict[str, Any] = {}
    for attr in inspect(row).mapper.column_attrs:
        if attr.key in ("ciphertext", "token_hash", "previous_hash", "rotation_secret"):
            continue
        value = getattr(row, attr.key)
        data[attr.key] = value.isoformat() if isinstance(value, datetime) else value
    if isinstance(row, Route):
        data["tiers"] = [[m.model_ref for m in t.members] for t in row.tiers]
    if isinstance(row, Agent):
        data["fallbacks"] = [f.model_ref for f in row.fallbacks]
    return data


class Repository:
    """CRUD over the registry tables. ``version`` is required on every change."""

    def __init__(self, sessions: sessionmaker[Session] | Engine | str | None = None) -> None:
        if isinstance(sessions, sessionmaker):
            self.sessions = sessions
        elif isinstance(sessions, Engine):
            check_revision(sessions)
            self.sessions = session_factory(sessions)
        else:
            self.sessions = connect(sessions)

    def close(self) -> None:
        """Close the pooled connections (a registry made from a URL owns its engine)."""
        bind = self.sessions.kw.get("bind")
        if isinstance(bind, Engine):
            bind.dispose()

    # --- transactions ----------------------------------------------------------

    @contextmanager
    def reading(self) -> Iterator[Session]:
        try:
            with self.sessions() as session, session.begin():
                session.connection(execution_options={READ_ONLY: True})
                yield session
        except OperationalError as exc:
            raise _unreachable(exc) from None
        except ProgrammingError as exc:
            raise _schema_drift(exc) from None

    @contextmanager
    def writing(self) -> Iterator[tuple[Session, AuditHead]]:
        """One transaction holding the audit-chain lock; conflicts become typed errors."""
        try:
            with self.sessions() as session, session.begin():
                yield session, lock_chain(session)
        except IntegrityError as exc:
            raise RegistryConflictError(
                f"the change conflicts with a stored row: {_constraint(exc)}",
                fix="use another name, or change the existing row instead",
            ) from None
        except OperationalError as exc:
            raise _unreachable(exc) from None
        except ProgrammingError as exc:
            raise _schema_drift(exc) from None
        except (DataError, StatementError) as exc:
            # the database refused a value (too long, out of range, NUL, NaN in JSON)
            raise RegistryValidationError(
                f"the database refused a value: {_constraint(exc)}", file="registry",
                fix="send a value that fits the field (length, range, finite numbers)",
            ) from None
        except StaleDataError:
            raise RegistryConflictError(
                "the row changed while this change was being written",
                fix="re-read it and re-apply the change",
            ) from None

    # --- generic CRUD ------------------------------------------------------------

    def _find(self, session: Session, kind: str, key: str) -> Any:
        if kind == "model":
            provider, _, name = key.partition(":")
            row = session.execute(
                select(Model).join(Provider).where(Provider.identifier == provider,
                                                   Model.name == name)
            ).scalar_one_or_none()
        else:
            model, column = _kind(kind)
            row = session.execute(
                select(model).where(getattr(model, column) == key)
            ).scalar_one_or_none()
        if row is None:
            raise RegistryNotFoundError(
                f"no {kind} '{key}' in the registry",
                fix=f"list the {kind}s to see the stored names",
            )
        return row

    def get(self, kind: str, key: str) -> Any:
        with self.reading() as session:
            row = self._find(session, kind, key)
            snapshot(row)  # load collections before the session closes
            return row

    def list(self, kind: str, *, limit: int | None = None, offset: int = 0,
             **filters: Any) -> list[Any]:
        """Rows of ``kind`` in id order; ``filters`` (column=value) and paging run as SQL."""
        return self.list_page(kind, limit=limit, offset=offset, **filters)[0]

    def list_page(self, kind: str, *, limit: int | None = None, offset: int = 0,
                  **filters: Any) -> tuple[builtins.list[Any], int]:
        """One page of rows plus the filtered total, both counted by the database.

        ``capability=x`` matches rows whose ``capabilities`` list holds ``x``; any
        other filter is an equality on the column of that name (``None`` skips it).
        """
        model = Model if kind == "model" else _kind(kind)[0]
        conditions = [_condition(kind, model, name, value)
                      for name, value in filters.items() if value is not None]
        query = select(model).where(*conditions).order_by(model.id).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with self.reading() as session:
            rows = list(session.execute(query).scalars())
            for row in rows:
                snapshot(row)
            if limit is None and offset == 0:
                total = len(rows)
            else:
                total = int(session.execute(
                    select(func.count()).select_from(model).where(*conditions)).scalar_one())
            return rows, total

    def create(self, kind: str, data: dict[str, Any], *, actor: str,
               request_id: str | None = None, system: bool = False) -> Any:
        with self.writing() as (session, head):
            return self.create_in(session, head, kind, data, actor=actor,
                                  request_id=request_id, system=system)

    def update(self, kind: str, key: str, changes: dict[str, Any], *, version: int | None,
               actor: str, request_id: str | None = None, system: bool = False) -> Any:
        with self.writing() as (session, head):
            return self.update_in(session, head, kind, key, changes, version=version,
                                  actor=actor, request_id=request_id, system=system)

    def delete(self, kind: str, key: str, *, version: int | None, actor: str,
               request_id: str | None = None, system: bool = False) -> None:
        with self.writing() as (session, head):
            self.delete_in(session, head, kind, key, version=version, actor=actor,
                           request_id=request_id, system=system)

    # --- the same, inside a transaction the caller holds (several changes, one commit) ---

    def create_in(self, session: Session, head: AuditHead, kind: str, data: dict[str, Any], *,
                  actor: str, request_id: str | None = None, system: bool = False) -> Any:
        model, _ = _kind(kind)
        _not_credential(kind)
        data = dict(data)
        relations = {k: data.pop(k) for k in _RELATIONS.get(kind, set()) if k in data}
        _check_fields(kind, model, data, system=system)
        row = model(**data, created_by=actor)
        _apply_defaults(row)
        if system:
            row.is_system = True
        self._set_relations(row, relations)
        _validate(kind, row)
        session.add(row)
        session.flush()
        record(session, head, actor=actor, action="create", target_type=kind,
               target_key=row.key, before=None, after=snapshot(row), request_id=request_id)
        return row

    def update_in(self, session: Session, head: AuditHead, kind: str, key: str,
                  changes: dict[str, Any], *, version: int | None, actor: str,
                  request_id: str | None = None, system: bool = False) -> Any:
        model = Model if kind == "model" else _kind(kind)[0]
        _not_credential(kind)
        changes = dict(changes)
        relations = {k: changes.pop(k) for k in _RELATIONS.get(kind, set()) if k in changes}
        _check_fields(kind, model, changes, system=system)
        row = self._find(session, kind, key)
        check_version(kind, key, row, version, system)
        before = snapshot(row)
        for name, value in changes.items():
            setattr(row, name, value)
        self._set_relations(row, relations)
        if relations:
            row.updated_at = utcnow()  # its rows changed: bump the parent's version too
        _validate(kind, row)
        session.flush()
        record(session, head, actor=actor, action="update", target_type=kind,
               target_key=row.key, before=before, after=snapshot(row), request_id=request_id)
        return row

    def delete_in(self, session: Session, head: AuditHead, kind: str, key: str, *,
                  version: int | None, actor: str, request_id: str | None = None,
                  system: bool = False) -> None:
        row = self._find(session, kind, key)
        check_version(kind, key, row, version, system)
        before = snapshot(row)
        session.delete(row)
        session.flush()
        record(session, head, actor=actor, action="delete", target_type=kind,
               target_key=key, before=before, after=None, request_id=request_id)

    # --- collections as rows -----------------------------------------------------------

    def add_model(self, provider: str, data: dict[str, Any], *, actor: str,
                  request_id: str | None = None) -> Model:
        """Add one model row to a provider (no provider version needed: rows, not a blob)."""
        with self.writing() as (session, head):
            return self.add_model_in(session, head, provider, data, actor=actor,
                                     request_id=request_id)

    def add_model_in(self, session: Session, head: AuditHead, provider: str,
                     data: dict[str, Any], *, actor: str, request_id: str | None = None
                     ) -> Model:
        _check_fields("model", Model, data, system=False)
        prov = self._find(session, "provider", provider)
        if prov.is_system:
            _read_only("provider", provider)
        row = Model(**data, provider=prov, created_by=actor)
        _apply_defaults(row)
        session.add(row)
        _validate("model", row)
        session.flush()
        record(session, head, actor=actor, action="create", target_type="model",
               target_key=row.key, before=None, after=snapshot(row), request_id=request_id)
        return row

    def add_tier_member(self, route: str, tier: int, model_ref: str, *, actor: str,
                        request_id: str | None = None) -> None:
        """Append ``model_ref`` to tier ``tier`` (0-based; one past the end adds a tier)."""
        with self.writing() as (session, head):
            row = self._find(session, "route", route)
            if not 0 <= tier <= len(row.tiers):
                raise RegistryValidationError(
                    f"route '{route}' has {len(row.tiers)} tier(s); there is no tier {tier}",
                    file="registry", field=f"routes.{route}.tiers",
                    fix=f"use a tier from 0 to {len(row.tiers)}",
                )
            if tier == len(row.tiers):
                row.tiers.append(RouteTier(position=tier))
            t = row.tiers[tier]
            t.members.append(TierMember(position=len(t.members), model_ref=model_ref))
            row.updated_at = utcnow()
            _validate("route", row)
            session.flush()
            record(session, head, actor=actor, action="add_member", target_type="route",
                   target_key=route, before=None,
                   after={"tier": tier, "model_ref": model_ref}, request_id=request_id)

    @staticmethod
    def _set_relations(row: Any, relations: dict[str, Any]) -> None:
        if "tiers" in relations:
            tiers = relations["tiers"]
            if not isinstance(tiers, list) or not all(isinstance(t, list | str) for t in tiers):
                raise RegistryValidationError(
                    "tiers must be a list of lists of model references", file="registry",
                    field=f"routes.{row.name}.tiers", fix="e.g. [[openai:gpt-4.1], [groq:x]]",
                )
            _clear(row, "tiers")
            row.tiers = [
                RouteTier(position=i, members=[
                    TierMember(position=j, model_ref=str(ref))
                    for j, ref in enumerate([t] if isinstance(t, str) else t)
                ]) for i, t in enumerate(tiers)
            ]
        if "fallbacks" in relations:
            _clear(row, "fallbacks")
            row.fallbacks = [AgentFallback(position=i, model_ref=str(ref))
                             for i, ref in enumerate(relations["fallbacks"] or [])]


def _clear(row: Any, collection: str) -> None:
    """Delete a stored collection's rows before new ones take their positions."""
    session = object_session(row)
    if session is not None and getattr(row, collection):
        getattr(row, collection).clear()
        session.flush()


def _apply_defaults(row: Any) -> None:
    """Column defaults now, not at flush, so validation sees the values that will be stored."""
    for attr in inspect(row).mapper.column_attrs:
        col = attr.columns[0]
        default = col.default
        if getattr(row, attr.key) is not None or default is None or col.primary_key:
            continue
        arg = getattr(default, "arg", None)
        if getattr(default, "is_scalar", False):
            setattr(row, attr.key, arg)
        elif getattr(default, "is_callable", False) and callable(arg):
            setattr(row, attr.key, arg(None))


def _condition(kind: str, model: type[Any], name: str, value: Any) -> Any:
    column = getattr(model, name, None)
    if column is None or name in ("ciphertext", "token_hash", "rotation_secret"):
        raise RegistryValidationError(
            f"{kind}s cannot be filtered by '{name}'", file="registry",
            fix="filter by a column of the table (status, provider_type, is_system, ...)")
    if name == "capabilities":
        # a JSON list on both backends: match the quoted item in its text form, so the
        # filter stays one portable SQL predicate (no JSON operators on SQLite)
        needle = json.dumps(str(value))
        escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return cast(column, String).like(f"%{escaped}%", escape="\\")
    return column == value


def _kind(kind: str) -> tuple[type[Any], str]:
    try:
        return KINDS[kind]
    except KeyError:
        raise RegistryValidationError(
            f"unknown registry kind '{kind}'", file="registry",
            fix=f"use one of {', '.join([*KINDS, 'model'])} (credentials have their own calls)",
        ) from None


def _not_credential(kind: str) -> None:
    if kind == "credential":
        raise RegistryValidationError(
            "credentials are written through put_credential (it encrypts the value)",
            file="registry", field="credential", fix="call put_credential(name, value)",
        )


def _check_fields(kind: str, model: type[Base], data: dict[str, Any], *, system: bool) -> None:
    columns = {a.key: a.columns[0] for a in inspect(model).column_attrs}
    allowed = set(columns) - (set() if system else _PROTECTED)
    for name, value in data.items():
        if name not in allowed:
            raise RegistryValidationError(
                f"'{name}' is not a field a {kind} change may set", file="registry",
                field=f"{kind}.{name}", fix=f"allowed: {', '.join(sorted(allowed))}",
            )
        length = getattr(columns[name].type, "length", None)
        if isinstance(value, str) and ((length and len(value) > length) or "\x00" in value):
            raise RegistryValidationError(
                f"the value is longer than {length} characters or holds a NUL byte",
                file="registry", field=f"{kind}.{name}", fix="send a shorter, plain string",
            )
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**31:
            raise RegistryValidationError(
                f"{value} is out of range", file="registry", field=f"{kind}.{name}",
                fix="send a number below 2,147,483,648",
            )


def _finite_json(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite_json(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_finite_json(v) for v in value)
    return True


def _read_only(kind: str, key: str) -> None:
    raise ReadOnlyEntryError(
        f"{kind} '{key}' is a system entry (from the config file or a plugin), read-only here",
        fix="change it where it is defined, or create a registry entry with another name",
    )


def check_version(kind: str, key: str, row: Any, version: int | None, system: bool) -> None:
    if getattr(row, "is_system", False) and not system:
        _read_only(kind, key)
    if isinstance(version, bool) or version != row.version:
        raise VersionConflictError(kind, key, version, row.version)


def _validate(kind: str, row: Any) -> None:
    if kind == "provider":
        validate.check_choice(row.auth_method, AUTH_METHODS, f"providers.{row.identifier}"
                              ".auth_method")
        has_key = bool((row.auth_config or {}).get("credential"))
        validate.provider_config(row, api_key=Secret("placeholder") if has_key else None)
    elif kind == "model":
        validate.model_override(row, row.provider.identifier)
    elif kind == "route":
        validate.route_config(row)
    elif kind == "agent":
        validate.agent_config(row)
    elif kind == "budget":
        validate.budget_config(row)
    elif kind == "user":
        validate.check_choice(row.role, ("admin", "operator", "viewer"), f"users.{row.name}.role")
    for attr in inspect(row).mapper.column_attrs:  # what the kind's own checks did not see
        if not _finite_json(getattr(row, attr.key)):
            raise RegistryValidationError(
                "the value holds NaN or an infinite number", file="registry",
                field=f"{kind}s.{row.key}.{attr.key}", fix="use finite numbers (JSON has no NaN)",
            )


def _schema_drift(exc: StatementError) -> RegistryError:
    return RegistryError(
        f"the registry database does not have the schema this polyroute expects: "
        f"{_constraint(exc)}",
        fix="run python -m polyroute.admin check <url>; restore the database from a backup "
        "if a table was dropped by hand",
    )


def _unreachable(exc: OperationalError) -> RegistryError:
    if "no such table" in str(exc.orig) or "no such column" in str(exc.orig):  # SQLite
        return _schema_drift(exc)
    return RegistryError(
        f"the registry database did not answer: {_constraint(exc)}",
        fix="check that the database server runs (or the SQLite file is not locked by a "
        "stuck process), then retry",
    )


def _constraint(exc: StatementError) -> str:
    text = str(exc.orig).splitlines()[0] if exc.orig else "constraint violated"
    return text.split("DETAIL")[0].strip()
