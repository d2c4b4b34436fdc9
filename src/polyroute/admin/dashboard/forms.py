"""Form bodies (``application/x-www-form-urlencoded``), read without python-multipart."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import Request

from polyroute.admin.dashboard.session import CSRF_FIELD, DashSession, check_csrf

__all__ = ["Form", "read_form"]

MAX_BODY = 256 * 1024


class Form:
    def __init__(self, data: dict[str, list[str]]) -> None:
        self.data = data

    def get(self, name: str, default: str = "") -> str:
        values = self.data.get(name)
        return values[-1].strip() if values else default

    def raw(self, name: str) -> str:
        """The value unstripped (a credential is sent exactly as typed)."""
        values = self.data.get(name)
        return values[-1] if values else ""

    def all(self, name: str) -> list[str]:
        return [v.strip() for v in self.data.get(name, []) if v.strip()]

    def __repr__(self) -> str:  # a form may hold a credential: never print values
        return f"Form(fields={sorted(self.data)})"


async def read_form(request: Request, s: DashSession | None = None) -> Form:
    """The posted form; with ``s``, its CSRF token must match the session's."""
    body = await request.body()
    if len(body) > MAX_BODY:
        body = b""
    form = Form(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
    if s is not None:
        check_csrf(request, s, form.get(CSRF_FIELD) or None)
    return form
