"""``/api/admin/tokens`` (create: the secret is shown once; list; read its status; rotate
under the same id with a grace window and an ``Idempotency-Key``; revoke) and
``/api/admin/audit`` (read, verify the chain)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from sqlalchemy import func, select

from polyroute.admin.api import views
from polyroute.admin.api.auth import Admin, Operator, registry
from polyroute.admin.api.common import IfMatch, Paging, actor, if_match, request_id, set_etag
from polyroute.admin.api.schemas import (
    AuditEntry,
    AuditVerify,
    Page,
    TokenIn,
    TokenOut,
    TokenRotate,
    TokenRotated,
    TokenSecret,
    TokenStatus,
)
from polyroute.admin.errors import RegistryConflictError, RegistryNotFoundError
from polyroute.admin.models import ApiToken, AuditRow, User

__all__ = ["router"]

router = APIRouter()


@router.post("/tokens", status_code=201, response_model=TokenSecret, tags=["tokens"],
             summary="Create an API token (admin); the secret is in this response only")
def create_token(request: Request, body: TokenIn, _: Admin) -> TokenSecret:
    reg = registry(request)
    who, rid = actor(request), request_id(request)
    try:
        user = reg.get("user", body.user)
    except RegistryNotFoundError:
        user = reg.create("user", {"name": body.user, "role": body.role}, actor=who,
                          request_id=rid)
    if user.role != body.role:
        raise RegistryConflictError(
            f"user '{body.user}' has the role '{user.role}', not '{body.role}'",
            fix=f"send role '{user.role}', or use another user name for a '{body.role}' token")
    expires = (datetime.now(UTC) + timedelta(days=body.expires_in_days)
               if body.expires_in_days else None)
    token_id, secret = reg.create_token(body.user, actor=who, expires_at=expires)
    with reg.reading() as session:
        row = session.execute(select(ApiToken).where(ApiToken.token_id == token_id)).scalar_one()
        out = views.token(row, body.user, user.role)
    return TokenSecret(**out.model_dump(), secret=secret)


@router.get("/tokens", response_model=Page[TokenOut], tags=["tokens"],
            summary="List API tokens (admin; never their secrets)")
def list_tokens(request: Request, _: Admin, paging: Paging,
                user: Annotated[str | None, Query(max_length=200)] = None,
                revoked: Annotated[bool | None, Query()] = None) -> Page[TokenOut]:
    with registry(request).reading() as session:
        q = select(ApiToken, User.name, User.role).join(User).order_by(ApiToken.id)
        if user is not None:
            q = q.where(User.name == user)
        if revoked is not None:
            q = q.where(ApiToken.revoked == revoked)
        total = int(session.execute(select(func.count()).select_from(q.subquery())).scalar_one())
        rows = session.execute(q.limit(paging.limit).offset(paging.offset)).all()
        items = [views.token(t, name, role) for t, name, role in rows]
    end = paging.offset + len(items)
    return Page[TokenOut](items=items, total=total, limit=paging.limit, offset=paging.offset,
                          next_offset=end if end < total else None)


def _status(request: Request, response: Response, token_id: str) -> TokenStatus:
    status = TokenStatus.model_validate(
        {k: views.utc(v) if k.endswith(("_at", "_until")) else v
         for k, v in registry(request).token_status(token_id).items()})
    set_etag(response, status.version)
    return status


@router.get("/tokens/{token_id}", response_model=TokenStatus, tags=["tokens"],
            summary="A token's status: owner, expiry, revoked, last rotation, grace (admin)")
def get_token(request: Request, response: Response, token_id: str, _: Admin) -> TokenStatus:
    return _status(request, response, token_id)


@router.post("/tokens/{token_id}/rotate", response_model=TokenRotated, tags=["tokens"],
             summary="A new secret under the same token id; the old one works for the grace "
                     "window (admin, If-Match; Idempotency-Key makes a retry safe)")
def rotate_token(
    request: Request, response: Response, token_id: str, _: Admin,
    body: TokenRotate | None = None, if_match_: IfMatch = None,
    idempotency_key: Annotated[str | None, Header(
        alias="Idempotency-Key", min_length=1, max_length=200,
        description="Any unique string (a UUID): a retry with it within 24 h returns the "
                    "same secret and rotates nothing.")] = None,
) -> TokenRotated:
    reg = registry(request)
    version = if_match(if_match_)
    grace = timedelta(seconds=(body or TokenRotate()).grace_seconds)
    secret = reg.rotate_token(token_id, version=version, actor=actor(request), grace=grace,
                              idempotency_key=idempotency_key,
                              request_id=request_id(request))
    status = _status(request, response, token_id)
    response.headers["Cache-Control"] = "no-store"  # a secret: never kept by a proxy
    return TokenRotated(**status.model_dump(), secret=secret)


@router.delete("/tokens/{token_id}", status_code=204, response_class=Response, tags=["tokens"],
               summary="Revoke an API token (admin, If-Match: its version)")
def revoke_token(request: Request, token_id: str, _: Admin, if_match_: IfMatch = None
                 ) -> Response:
    version = if_match(if_match_)
    registry(request).revoke_token(token_id, version=version, actor=actor(request))
    return Response(status_code=204)


@router.get("/audit", response_model=Page[AuditEntry], tags=["audit"],
            summary="Read the audit log, oldest first (operator)")
def list_audit(request: Request, _: Operator, paging: Paging,
               target_type: Annotated[str | None, Query(max_length=50)] = None,
               action: Annotated[str | None, Query(max_length=20)] = None,
               actor_: Annotated[str | None, Query(alias="actor", max_length=200)] = None,
               ) -> Page[AuditEntry]:
    with registry(request).reading() as session:
        q = select(AuditRow).order_by(AuditRow.seq)
        for column, value in ((AuditRow.target_type, target_type), (AuditRow.action, action),
                              (AuditRow.actor, actor_)):
            if value is not None:
                q = q.where(column == value)
        total = int(session.execute(select(func.count()).select_from(q.subquery())).scalar_one())
        rows = session.execute(q.limit(paging.limit).offset(paging.offset)).scalars().all()
        items = [views.audit(r) for r in rows]
    end = paging.offset + len(items)
    return Page[AuditEntry](items=items, total=total, limit=paging.limit, offset=paging.offset,
                            next_offset=end if end < total else None)


@router.get("/audit/verify", response_model=AuditVerify, tags=["audit"],
            summary="Re-walk the audit chain; names the first row changed, deleted or moved")
def verify_audit(request: Request, _: Operator) -> AuditVerify:
    report = registry(request).verify_chain()
    return AuditVerify(ok=report.ok, rows=report.rows, seq=report.seq, problem=report.problem,
                       detail=report.detail)
