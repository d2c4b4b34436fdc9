"""OAuth2 client-credentials for providers stored with ``auth_method: oauth2``.

Two parts. ``ClientCredentials`` is sans-IO: it says when a token is needed
(none yet, or within ``skew`` seconds of expiry), builds the token request
(RFC 6749 §4.4, client authenticated with HTTP Basic as §2.3.1 asks) and reads
the answer; it never touches the network. ``OAuth2Token`` is the provider's
API key: a ``Secret`` whose ``reveal()`` returns the current access token,
sending the request through a small injected ``send`` function when a token is
due. Providers put their API key where their API expects it (``Authorization:
Bearer`` for OpenAI-compatible types), so every provider type works unchanged.

Tokens are cached per (token URL, client id, scope, secret digest) for the
process, so a router rebuilt by a live reload keeps the token it had. The
client secret and the tokens are registered with polyroute's log redaction and
never appear in an error: a refused token request reports the endpoint's
``error`` code only.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from polyroute.errors import (
    AuthenticationError,
    InvalidResponseError,
    ProviderConnectionError,
    ServerError,
)
from polyroute.providers.base import HttpRequest, HttpResponse
from polyroute.secrets import Secret, remember

__all__ = ["ClientCredentials", "OAuth2Token", "http_send", "oauth2_token"]

Send = Callable[[HttpRequest], HttpResponse]


class ClientCredentials:
    """The client-credentials grant as a state machine: no IO, an injected clock."""

    def __init__(self, *, token_url: str, client_id: str, client_secret: Secret,
                 scope: str | None = None, audience: str | None = None,
                 provider: str = "", skew: float = 60.0) -> None:
        self.token_url, self.client_id = token_url, client_id
        self.scope, self.audience = scope, audience
        self.provider, self.skew = provider, skew
        self._secret = client_secret
        self._token: str | None = None
        self._expires_at = 0.0

    def needs_token(self, now: float) -> bool:
        return self._token is None or now >= self._expires_at - self.skew

    @property
    def token(self) -> str | None:
        return self._token

    def token_request(self) -> HttpRequest:
        secret = self._secret.reveal(what=f"provider '{self.provider}' oauth2 client secret")
        basic = base64.b64encode(
            f"{quote(self.client_id, safe='')}:{quote(secret, safe='')}".encode()).decode()
        form = {"grant_type": "client_credentials"}
        if self.scope:
            form["scope"] = self.scope
        if self.audience:
            form["audience"] = self.audience
        return HttpRequest("POST", self.token_url, headers={
            "authorization": f"Basic {basic}", "accept": "application/json",
            "content-type": "application/x-www-form-urlencoded",
        }, content=urlencode(form).encode())

    def accept(self, response: HttpResponse, now: float) -> str:
        """Take the token endpoint's answer; the new access token, or a typed error."""
        where = f"the oauth2 token endpoint of provider '{self.provider}' ({self._host()})"
        if response.status >= 500:
            raise ServerError(f"{where} answered {response.status}", provider=self.provider,
                              status=response.status)
        try:
            data: Any = response.json()
        except InvalidResponseError:
            data = None
        if response.status >= 400 or not isinstance(data, dict):
            code = data.get("error") if isinstance(data, dict) else None
            # only the error code: a description may echo what was sent
            raise AuthenticationError(
                f"{where} refused the client credentials ({response.status}"
                f"{', ' + str(code)[:60] if code else ''}); check the client id and the "
                "stored client secret", provider=self.provider, status=response.status)
        token, expires = data.get("access_token"), data.get("expires_in", 3600)
        if not isinstance(token, str) or not token:
            raise InvalidResponseError(f"{where} sent no access_token", provider=self.provider,
                                       status=response.status)
        if not isinstance(expires, int | float) or isinstance(expires, bool) or expires <= 0:
            expires = 3600
        remember(token)
        self._token, self._expires_at = token, now + float(expires)
        return token

    def _host(self) -> str:
        return urlsplit(self.token_url).netloc or self.token_url


class OAuth2Token(Secret):
    """A provider API key that is the current OAuth2 access token, refreshed before expiry."""

    __slots__ = ("_clock", "_flow", "_lock", "_send")

    def __init__(self, flow: ClientCredentials, send: Send,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(None, env=None)
        self._flow, self._send, self._clock = flow, send, clock
        self._lock = threading.Lock()

    def is_available(self) -> bool:
        return True

    def reveal(self, *, what: str = "secret") -> str:
        with self._lock:  # one refresh at a time; the others wait for its token
            if self._flow.needs_token(self._clock()):
                request = self._flow.token_request()
                return self._flow.accept(self._send(request), self._clock())
            token = self._flow.token
            assert token is not None
            return token

    def __repr__(self) -> str:
        return f"OAuth2Token({self._flow._host()}, client {self._flow.client_id!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return other is self

    def __hash__(self) -> int:
        return id(self)


def http_send(timeout: float = 10.0) -> Send:
    """A blocking sender over httpx (the token endpoint is called rarely: at expiry)."""
    import httpx

    def send(request: HttpRequest) -> HttpResponse:
        try:
            r = httpx.request(request.method, request.url, headers=dict(request.headers),
                              content=request.content, timeout=timeout)
        except httpx.HTTPError as exc:
            raise ProviderConnectionError(
                f"the oauth2 token endpoint {urlsplit(request.url).netloc} did not answer: "
                f"{type(exc).__name__}") from None
        return HttpResponse(r.status_code, {k.lower(): v for k, v in r.headers.items()},
                            r.content)

    return send


_CACHE: dict[tuple[str, str, str, str], OAuth2Token] = {}
_CACHE_LOCK = threading.Lock()


def oauth2_token(*, provider: str, token_url: str, client_id: str, client_secret: Secret,
                 scope: str | None = None, audience: str | None = None,
                 send: Send | None = None) -> OAuth2Token:
    """The process's token for these client credentials (shared across router rebuilds)."""
    digest = hashlib.sha256(
        client_secret.reveal(what=f"provider '{provider}' oauth2 client secret").encode()
    ).hexdigest()
    key = (token_url, client_id, f"{scope}|{audience}", digest)
    with _CACHE_LOCK:
        tok = _CACHE.get(key)
        if tok is None:
            flow = ClientCredentials(token_url=token_url, client_id=client_id,
                                     client_secret=client_secret, scope=scope,
                                     audience=audience, provider=provider)
            tok = _CACHE[key] = OAuth2Token(flow, send or http_send())
        return tok
