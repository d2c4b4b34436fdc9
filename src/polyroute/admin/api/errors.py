"""One error shape for every error the admin API returns.

``{"error": {"code", "message", "details", "field", "suggestions"}, "timestamp",
"requestId"}``: the registry's typed errors, request validation, unknown routes,
auth failures and unexpected faults all leave through here, and every text is
run through ``polyroute.secrets.redact`` first, so a key that reached an error
message never reaches a client.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from polyroute.admin.approvals import ApprovalRequiredError
from polyroute.admin.errors import (
    CredentialError,
    MaskedSecretError,
    ReadOnlyEntryError,
    RegistryConflictError,
    RegistryError,
    RegistryKeyError,
    RegistryNotFoundError,
    SchemaRevisionError,
    VersionConflictError,
)
from polyroute.errors import ConfigError, PolyrouteError
from polyroute.secrets import redact

__all__ = ["ApiError", "error_response", "install_error_handlers"]

log = logging.getLogger("polyroute.admin.api")

_STATUS_CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 412: "precondition_failed",
    413: "too_large", 415: "unsupported_media_type", 422: "validation_error",
    428: "precondition_required", 429: "rate_limited", 500: "internal_error",
    503: "unavailable",
}


class ApiError(Exception):
    """An error the API raises itself (auth, ETags, rate limits...)."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None,
                 suggestions: list[str] | None = None, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.field, self.suggestions, self.details = field, suggestions or [], details or {}
        self.headers = headers


def request_id(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or "")


def error_response(request: Request, status: int, code: str, message: str, *,
                   field: str | None = None, suggestions: list[str] | None = None,
                   details: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    rid = request_id(request)
    body = {
        "error": {
            "code": code, "message": redact(message), "details": details or {},
            "field": field, "suggestions": [redact(s) for s in suggestions or []],
        },
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
        "requestId": rid,
    }
    out = dict(headers or {})
    if rid:
        out["X-Request-ID"] = rid
    return JSONResponse(body, status_code=status, headers=out)


def _registry_status(exc: PolyrouteError) -> tuple[int, str]:
    if isinstance(exc, VersionConflictError):
        return (428, "precondition_required") if exc.expected is None else (
            412, "version_conflict")
    for cls, status, code in (
        (RegistryNotFoundError, 404, "not_found"),
        (ApprovalRequiredError, 409, "approval_required"),
        (ReadOnlyEntryError, 409, "read_only_entry"),
        (RegistryConflictError, 409, "conflict"),
        (MaskedSecretError, 422, "masked_secret"),
        (SchemaRevisionError, 503, "schema_revision"),
        (RegistryKeyError, 503, "encryption_key"),
        (CredentialError, 422, "credential"),
        (ConfigError, 422, "validation_error"),
        (RegistryError, 503, "registry_unavailable"),
    ):
        if isinstance(exc, cls):
            return status, code
    return 500, "internal_error"


def _field_of(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] or parts
    return ".".join(parts)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(request, exc.status, exc.code, exc.message, field=exc.field,
                              suggestions=exc.suggestions, details=exc.details,
                              headers=exc.headers)

    @app.exception_handler(PolyrouteError)
    async def _registry(request: Request, exc: PolyrouteError) -> JSONResponse:
        status, code = _registry_status(exc)
        fix = getattr(exc, "fix", None)
        reason = getattr(exc, "reason", None) or str(exc)
        details: dict[str, Any] = {}
        if isinstance(exc, VersionConflictError):
            details = {"currentVersion": exc.actual, "sentVersion": exc.expected}
        if isinstance(exc, ConfigError) and len(exc.problems) > 1:
            details["problems"] = [
                {"field": p.field, "message": redact(p.reason)} for p in exc.problems
            ]
        if status >= 500:
            log.warning("admin API %s: %s", code, redact(str(exc)))
        return error_response(request, status, code, reason,
                              field=getattr(exc, "field", None),
                              suggestions=[fix] if fix else [], details=details)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        problems = [
            {"field": _field_of(e.get("loc", ())), "message": str(e.get("msg", "invalid"))}
            for e in errors
        ]
        first = problems[0] if problems else {"field": "", "message": "invalid request"}
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        return error_response(
            request, 422, "validation_error", f"{first['field']}: {first['message']}{more}",
            field=first["field"] or None, details={"problems": problems},
            suggestions=[f"correct '{first['field']}' and send the request again; "
                         "the schema is at /openapi.json"],
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code
        hint = {404: "see /openapi.json for the endpoints",
                405: "see /openapi.json for the methods this path accepts"}
        return error_response(request, exc.status_code, code, message,
                              suggestions=[hint[exc.status_code]] if exc.status_code in hint
                              else [], headers=dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # the traceback goes to the log (scrubbed); the client gets the request id only
        log.error("admin API unexpected %s on %s %s: %s", type(exc).__name__, request.method,
                  request.url.path, redact(str(exc)))
        return error_response(request, 500, "internal_error",
                              "the server failed on this request",
                              suggestions=["retry; if it persists, report the requestId"])
