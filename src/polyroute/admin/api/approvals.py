"""``/api/admin/approvals``: two-person approval of critical changes.

With ``require_approval`` on (``polyroute serve --require-approval``), deleting a
provider, replacing or deleting a credential and raising a budget made directly
answer 409 ``approval_required``; the change is proposed here instead and applied
only when a *different* admin approves it (the registry refuses the proposer). A
credential's new value is write-only: stored encrypted with the proposal, never
shown, dropped once the change is decided.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy import func, select

from polyroute.admin.api import views
from polyroute.admin.api.auth import Admin, Operator, registry
from polyroute.admin.api.common import Paging, actor, listed, request_id, set_etag
from polyroute.admin.api.schemas import ChangeIn, ChangeOut, Page
from polyroute.admin.errors import RegistryNotFoundError
from polyroute.admin.models import Credential, PendingChange

__all__ = ["router"]

router = APIRouter(tags=["approvals"])
ChangeId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _view(row: PendingChange) -> ChangeOut:
    return ChangeOut(
        id=row.id, kind=row.kind, key=row.key, action=row.action, data=dict(row.data or {}),
        carries_secret=row.secret is not None, base_version=row.base_version,
        reason=row.reason, status=row.status, requested_by=row.requested_by,
        requested_at=views.utc(row.requested_at), decided_by=row.decided_by,
        decided_at=views.utc(row.decided_at), version=row.version,
    )


def _read(request: Request, change_id: int) -> ChangeOut:
    with registry(request).reading() as session:
        row = session.get(PendingChange, change_id)
        if row is None:
            raise RegistryNotFoundError(f"no pending change #{change_id}",
                                        fix="list the changes: GET /api/admin/approvals")
        return _view(row)


@router.get("/approvals", response_model=Page[ChangeOut],
            summary="List proposed changes, oldest first (operator; default: pending)")
def list_changes(request: Request, _: Operator, paging: Paging,
                 status: Annotated[Literal["pending", "approved", "rejected"] | None,
                                   Query()] = "pending") -> Page[ChangeOut]:
    with registry(request).reading() as session:
        q = select(PendingChange).order_by(PendingChange.id)
        if status is not None:
            q = q.where(PendingChange.status == status)
        total = int(session.execute(select(func.count()).select_from(q.subquery())).scalar_one())
        rows = session.execute(q.limit(paging.limit).offset(paging.offset)).scalars().all()
        return listed(rows, total, paging, _view)


@router.post("/approvals", status_code=201, response_model=ChangeOut,
             summary="Propose a change for a second admin to approve (admin)")
def propose(request: Request, response: Response, body: ChangeIn, _: Admin) -> ChangeOut:
    value = body.value.get_secret_value() if body.value is not None else None
    reg, version = registry(request), body.base_version
    if version is None and body.action == "put_credential":
        # credentials have no ETag of their own in the API: the proposal replaces the value
        # stored now, and approving fails if it is replaced again before then
        with reg.reading() as session:
            version = session.execute(select(Credential.version).where(
                Credential.name == body.key)).scalar_one_or_none()
    row = reg.propose(body.kind, body.action, body.key, body.data, version=version,
                      actor=actor(request), value=value, request_id=request_id(request))
    response.headers["Location"] = f"/api/admin/approvals/{row.id}"
    set_etag(response, row.version)
    return _read(request, row.id)


@router.get("/approvals/{change_id}", response_model=ChangeOut,
            summary="Read a proposed change (operator)")
def get_change(request: Request, response: Response, change_id: ChangeId,
               _: Operator) -> ChangeOut:
    out = _read(request, change_id)
    set_etag(response, out.version)
    return out


@router.post("/approvals/{change_id}/approve", response_model=ChangeOut,
             summary="Approve and apply a change, in one audited transaction (another admin)")
def approve(request: Request, change_id: ChangeId, _: Admin) -> ChangeOut:
    registry(request).approve(change_id, actor=actor(request), request_id=request_id(request))
    return _read(request, change_id)


@router.post("/approvals/{change_id}/reject", response_model=ChangeOut,
             summary="Reject a change; nothing is applied (admin)")
def reject(request: Request, change_id: ChangeId, _: Admin) -> ChangeOut:
    registry(request).reject(change_id, actor=actor(request), request_id=request_id(request))
    return _read(request, change_id)
