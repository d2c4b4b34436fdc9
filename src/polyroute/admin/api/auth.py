"""Bearer-token authentication and the three roles.

``admin`` may do everything, ``operator`` may test providers and models,
enable or disable them and edit agents, routes and budgets, ``viewer`` may read.
Tokens are the registry's API tokens (random, stored as SHA-256, expirable,
revocable). A token is only ever read from the ``Authorization`` header: a
query string ends up in access logs and browser history, so a request carrying
anything secret-shaped there is refused before it reaches a handler.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from polyroute.admin import Registry
from polyroute.admin.api.errors import ApiError

__all__ = ["ROLE_RANK", "Principal", "Role", "bearer", "registry", "require"]

Role = Literal["viewer", "operator", "admin"]
ROLE_RANK: dict[str, int] = {"viewer": 0, "operator": 1, "admin": 2}
bearer = HTTPBearer(auto_error=False, description="An API token: Authorization: Bearer prt_…")
SECRET_QUERY = re.compile(r"(?i)(token|key|secret|passw|auth|bearer|credential|signature)")


@dataclass(frozen=True)
class Principal:
    name: str
    role: str

    def may(self, role: str) -> bool:
        return ROLE_RANK.get(self.role, -1) >= ROLE_RANK[role]


def registry(request: Request) -> Registry:
    reg: Registry = request.app.state.registry
    return reg


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"},
                    suggestions=["send Authorization: Bearer <token>; an admin creates tokens "
                                 "with POST /api/admin/tokens (see docs/admin-api.md)"])


def require(role: Role) -> Callable[..., Principal]:
    """A dependency: the caller's principal, if it has ``role`` or a higher one."""

    def dependency(
        request: Request,
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> Principal:
        if creds is None or not creds.credentials.strip():
            raise _unauthorized("this endpoint needs an API token")
        user = registry(request).authenticate(creds.credentials.strip())
        if user is None:
            raise _unauthorized("the API token is unknown, expired or revoked")
        who = Principal(user.name, user.role)
        if not who.may(role):
            raise ApiError(403, "forbidden",
                           f"the role '{who.role}' may not do this; it needs '{role}'",
                           details={"role": who.role, "required": role},
                           suggestions=[f"ask an admin for a token with the '{role}' role"])
        request.state.principal = who
        return who

    dependency.__name__ = f"require_{role}"
    return dependency


Viewer = Annotated[Principal, Depends(require("viewer"))]
Operator = Annotated[Principal, Depends(require("operator"))]
Admin = Annotated[Principal, Depends(require("admin"))]
