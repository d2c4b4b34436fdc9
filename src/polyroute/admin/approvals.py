"""Two-person approval: critical changes wait as ``pending`` until a second admin approves.

Critical: deleting a provider, replacing or deleting a credential, raising a
budget. With ``require_approval`` on, the direct calls refuse them
(``ApprovalRequiredError`` naming ``propose``); ``propose`` stores the change
(a credential's new value encrypted, never in clear) with the version it was
based on, audited; ``approve`` by anyone but the proposer applies it in the same
transaction that marks it approved, and fails if the row moved on since the
proposal; ``reject`` closes it. Who may approve (an admin) is the API's check;
this layer holds the rule the database can: never the proposer.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from polyroute.admin.audit import record
from polyroute.admin.credentials import CredentialsMixin
from polyroute.admin.errors import (
    RegistryConflictError,
    RegistryError,
    RegistryNotFoundError,
    RegistryValidationError,
)
from polyroute.admin.models import Budget, Credential, PendingChange, utcnow
from polyroute.admin.secrets import check_not_masked

__all__ = ["ApprovalRequiredError", "ApprovalsMixin"]

_ACTIONS = ("create", "update", "delete", "put_credential")


class ApprovalRequiredError(RegistryError):
    """A critical change was made directly while two-person approval is on."""


class ApprovalsMixin(CredentialsMixin):
    require_approval: bool = False
    """Refuse critical changes made directly; they must be proposed and approved."""

    # --- the policy ----------------------------------------------------------------

    def approval_reason(self, kind: str, action: str, key: str,
                        data: dict[str, Any] | None = None) -> str | None:
        """Why this change needs a second admin, or ``None`` if it does not."""
        if kind == "provider" and action == "delete":
            return "deleting a provider"
        if kind == "credential" and action in ("put_credential", "delete"):
            with self.reading() as session:
                exists = session.execute(
                    select(Credential.id).where(Credential.name == key)).first() is not None
            return "changing a credential" if exists else None
        if kind == "budget" and action == "update" and "usd" in (data or {}):
            with self.reading() as session:
                usd = session.execute(select(Budget.usd).where(Budget.name == key)).scalar()
            new = (data or {})["usd"]
            if usd is not None and isinstance(new, int | float) and new > usd:
                return f"raising a budget ({usd:g} to {new:g} USD)"
        return None

    def _guard(self, kind: str, action: str, key: str, data: dict[str, Any] | None) -> None:
        if not self.require_approval:
            return
        reason = self.approval_reason(kind, action, key, data)
        if reason:
            raise ApprovalRequiredError(
                f"{reason} needs a second admin's approval ({kind} '{key}')",
                fix="propose it (propose(...) / the API's pending changes) and have another "
                "admin approve it",
            )

    # --- direct calls, guarded ---------------------------------------------------------

    def update(self, kind: str, key: str, changes: dict[str, Any], *, version: int | None,
               actor: str, request_id: str | None = None, system: bool = False) -> Any:
        if not system:
            self._guard(kind, "update", key, changes)
        return super().update(kind, key, changes, version=version, actor=actor,
                              request_id=request_id, system=system)

    def delete(self, kind: str, key: str, *, version: int | None, actor: str,
               request_id: str | None = None, system: bool = False) -> None:
        if not system:
            self._guard(kind, "delete", key, None)
        super().delete(kind, key, version=version, actor=actor, request_id=request_id,
                       system=system)

    def put_credential(self, name: str, value: str, *, actor: str, version: int | None = None,
                       request_id: str | None = None) -> Credential:
        self._guard("credential", "put_credential", name, None)
        return super().put_credential(name, value, actor=actor, version=version,
                                      request_id=request_id)

    # --- proposals ---------------------------------------------------------------------

    def propose(self, kind: str, action: str, key: str, data: dict[str, Any] | None = None, *,
                version: int | None, actor: str, value: str | None = None,
                request_id: str | None = None) -> PendingChange:
        """Store a change for a second admin. ``value``: a credential's new secret."""
        if action not in _ACTIONS:
            raise RegistryValidationError(f"'{action}' is not a change that can be proposed",
                                          file="registry", field="action",
                                          fix=f"use one of {', '.join(_ACTIONS)}")
        secret = None
        if action == "put_credential":
            if not isinstance(value, str) or not value.strip():
                raise RegistryValidationError("a credential change needs the new value",
                                              file="registry", field=f"credentials.{key}.value",
                                              fix="send the secret")
            check_not_masked(value, field=f"credentials.{key}.value")
            secret = self._keys().encrypt(value)
        reason = self.approval_reason(kind, action, key, data) or "proposed for review"
        with self.writing() as (session, head):
            row = PendingChange(kind=kind, key=key, action=action, data=dict(data or {}),
                                secret=secret, base_version=version, reason=reason[:300],
                                status="pending", requested_by=actor)
            session.add(row)
            session.flush()
            record(session, head, actor=actor, action="propose", target_type=kind,
                   target_key=key, before=None,
                   after={"change": row.id, "action": action, "data": row.data,
                          "base_version": version, "reason": row.reason},
                   request_id=request_id)
            return row

    def pending(self) -> list[PendingChange]:
        with self.reading() as session:
            return list(session.execute(select(PendingChange).where(
                PendingChange.status == "pending").order_by(PendingChange.id)).scalars())

    def approve(self, change_id: int, *, actor: str, request_id: str | None = None) -> Any:
        """Apply a pending change (not by its proposer), in one transaction with its audit."""
        with self.writing() as (session, head):
            change = self._open_change(session, change_id)
            if actor == change.requested_by:
                raise RegistryConflictError(
                    f"change #{change_id} was proposed by {actor}; the same person cannot "
                    "approve it", fix="have a second admin approve it",
                )
            kw: dict[str, Any] = {"actor": actor, "request_id": request_id}
            data, kind, key = dict(change.data or {}), change.kind, change.key
            if change.action == "create":
                result = self.create_in(session, head, kind, data, **kw)
            elif change.action == "update":
                result = self.update_in(session, head, kind, key, data,
                                        version=change.base_version, **kw)
            elif change.action == "delete":
                self.delete_in(session, head, kind, key, version=change.base_version, **kw)
                result = None
            else:
                assert change.secret is not None
                value = self._keys().decrypt(change.secret, what=f"pending change #{change_id}")
                result = self.put_credential_in(session, head, key, value,
                                                version=change.base_version, **kw)
            change.status, change.decided_by, change.decided_at = "approved", actor, utcnow()
            change.secret = None  # applied: the copy is not kept
            session.flush()
            record(session, head, actor=actor, action="approve", target_type=kind,
                   target_key=key, before=None,
                   after={"change": change_id, "proposed_by": change.requested_by},
                   request_id=request_id)
            return result

    def reject(self, change_id: int, *, actor: str, request_id: str | None = None) -> None:
        with self.writing() as (session, head):
            change = self._open_change(session, change_id)
            change.status, change.decided_by, change.decided_at = "rejected", actor, utcnow()
            change.secret = None
            session.flush()
            record(session, head, actor=actor, action="reject", target_type=change.kind,
                   target_key=change.key, before=None,
                   after={"change": change_id, "proposed_by": change.requested_by},
                   request_id=request_id)

    @staticmethod
    def _open_change(session: Any, change_id: int) -> PendingChange:
        change: PendingChange | None = session.get(PendingChange, change_id)
        if change is None:
            raise RegistryNotFoundError(f"no pending change #{change_id}",
                                        fix="list the pending changes")
        if change.status != "pending":
            raise RegistryConflictError(
                f"change #{change_id} is already {change.status} (by {change.decided_by})",
                fix="list the pending changes",
            )
        return change
