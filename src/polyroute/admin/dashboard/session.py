"""Dashboard sign-in: an API token in, a server-side session out.

The browser holds only a random session id, in an ``HttpOnly``,
``SameSite=Strict`` cookie scoped to ``/ui``; the token itself stays in this
process's memory (so a restart signs everyone out, and the token never travels
again after sign-in). Every request re-checks the token with the registry, so a
revoked or expired token ends its sessions at once. Each session has a CSRF
secret that every state-changing form (and htmx request) must send back.

Two more checks stand before any POST runs, sign-in included: the browser's
``Origin`` (or, without it, ``Referer``) must name this server itself, and the
sign-in form must send back the one-time value its page set in a
``SameSite=Strict`` cookie, so another site can neither post a form here nor sign
a victim's browser in under the attacker's token (login CSRF).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from polyroute.admin import Registry

__all__ = [
    "COOKIE", "LOGIN_COOKIE", "CsrfError", "DashSession", "LoginRequired", "SessionStore",
    "check_login_csrf", "current", "login_redirect", "new_login_csrf", "same_origin",
    "set_login_cookie",
]

COOKIE = "polyroute_session"
LOGIN_COOKIE = "polyroute_login"
LIFETIME_S = 12 * 3600.0
CSRF_FIELD = "csrf"
CSRF_HEADER = "X-CSRF-Token"


class LoginRequired(Exception):
    """No valid session: the handler redirects to the sign-in page."""


class CsrfError(Exception):
    """A state-changing request that did not come from this dashboard."""

    def __init__(self, reason: str = "This form was not sent from this dashboard session "
                                     "(CSRF check failed).") -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class DashSession:
    sid: str = field(repr=False)
    token: str = field(repr=False)
    csrf: str = field(repr=False)
    user: str
    role: str
    expires: float

    def may(self, role: str) -> bool:
        rank = {"viewer": 0, "operator": 1, "admin": 2}
        return rank.get(self.role, -1) >= rank[role]


class SessionStore:
    def __init__(self) -> None:
        self._items: dict[str, DashSession] = {}
        self._lock = threading.Lock()

    def open(self, token: str, user: str, role: str) -> DashSession:
        s = DashSession(sid=secrets.token_urlsafe(32), token=token,
                        csrf=secrets.token_urlsafe(32), user=user, role=role,
                        expires=time.time() + LIFETIME_S)
        with self._lock:
            now = time.time()
            for sid in [k for k, v in self._items.items() if v.expires < now]:
                del self._items[sid]
            self._items[s.sid] = s
        return s

    def get(self, sid: str) -> DashSession | None:
        with self._lock:
            s = self._items.get(sid)
            if s is not None and s.expires < time.time():
                del self._items[sid]
                return None
            return s

    def close(self, sid: str) -> None:
        with self._lock:
            self._items.pop(sid, None)


def store(request: Request) -> SessionStore:
    st: SessionStore = request.app.state.dashboard_sessions
    return st


def current(request: Request) -> DashSession:
    """A dependency: the signed-in session (its token still valid), else sign in."""
    sid = request.cookies.get(COOKIE, "")
    s = store(request).get(sid) if sid else None
    if s is None:
        raise LoginRequired()
    reg: Registry = request.app.state.registry
    user = reg.authenticate(s.token)
    if user is None:  # revoked or expired since sign-in
        store(request).close(sid)
        raise LoginRequired()
    s.role = user.role
    request.state.dashboard = s
    return s


def check_csrf(request: Request, s: DashSession, sent: str | None) -> None:
    value = sent or request.headers.get(CSRF_HEADER, "")
    if not value or not secrets.compare_digest(value, s.csrf):
        raise CsrfError()


def same_origin(request: Request) -> None:
    """A dependency of every dashboard route: a POST must come from a page of this server.

    Browsers send ``Origin`` on every cross-site POST (and ``Referer`` nearly
    always), so a mismatch is another site's form. A request with neither is not
    a browser's cross-site form (scripts and API clients), and still needs the
    CSRF token. The host is compared without the scheme: behind a TLS-terminating
    proxy the browser says ``https`` while this process sees ``http``.
    """
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    host = request.headers.get("host", "").lower()
    # behind a reverse proxy that rewrites Host, the browser's host is the forwarded one;
    # another site's form cannot set this header (a custom header needs CORS)
    forwarded = request.headers.get("x-forwarded-host", "").split(",")[0].strip().lower()
    origin = request.headers.get("origin")
    source, sent = ("Origin", origin) if origin is not None else (
        "Referer", request.headers.get("referer"))
    if sent is None:
        return
    got = urlsplit(sent).netloc.lower() if sent != "null" else "null"
    if not host or got not in (host, forwarded):
        raise CsrfError(f"This form was sent from another site ({source}: {got or 'none'}), "
                        f"not from this dashboard ({host or 'unknown host'}); nothing was "
                        "changed. Open the dashboard at its own address and try again.")


def new_login_csrf() -> str:
    """A fresh value for the sign-in form; ``set_login_cookie`` puts it in the cookie too."""
    return secrets.token_urlsafe(32)


def set_login_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(LOGIN_COOKIE, value, max_age=3600, path="/ui", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")


def check_login_csrf(request: Request, sent: str) -> None:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not sent or not secrets.compare_digest(sent, expected):
        raise CsrfError("This sign-in form was not sent from this dashboard's sign-in page "
                        "(login CSRF check failed). Open the sign-in page again and sign in "
                        "from there.")


def set_cookie(request: Request, response: Response, s: DashSession) -> None:
    response.set_cookie(COOKIE, s.sid, max_age=int(LIFETIME_S), path="/ui", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")


def login_redirect(request: Request) -> Response:
    target = "/ui/login"
    if request.headers.get("HX-Request"):
        # an htmx swap would paste the sign-in page into a card: send the page there
        return Response(status_code=204, headers={"HX-Redirect": target})
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(COOKIE, path="/ui")
    return response
