"""OAuth2 client-credentials: fetched, cached, refreshed before expiry, never leaked."""

from __future__ import annotations

import base64
import logging
from urllib.parse import parse_qs

import pytest

from polyroute.admin import Registry, registry_config
from polyroute.admin.oauth2 import ClientCredentials, OAuth2Token
from polyroute.errors import AuthenticationError, InvalidResponseError, ServerError
from polyroute.plugins import PluginRegistry
from polyroute.providers.base import HttpRequest, HttpResponse
from polyroute.router import Router
from polyroute.secrets import Secret
from polyroute.testing.standin import Reply, StandinRequest, StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints

CLIENT_SECRET = "cs-live-Hq7Lk2Mn9Pz4Rt6Vw8Xy"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _flow() -> ClientCredentials:
    return ClientCredentials(token_url="https://login.example/oauth2/token", client_id="app 1",
                             client_secret=Secret(CLIENT_SECRET), scope="llm.invoke",
                             provider="corp")


def _ok(token: str, expires_in: int = 3600) -> HttpResponse:
    return HttpResponse(200, {"content-type": "application/json"},
                        f'{{"access_token": "{token}", "token_type": "Bearer", '
                        f'"expires_in": {expires_in}}}'.encode())


def test_the_token_request_is_a_client_credentials_grant_with_basic_auth() -> None:
    req = _flow().token_request()
    assert (req.method, req.url) == ("POST", "https://login.example/oauth2/token")
    user, _, secret = base64.b64decode(req.headers["authorization"].split()[1]).decode(
        ).partition(":")
    assert (user, secret) == ("app%201", CLIENT_SECRET)  # form-encoded per RFC 6749 2.3.1
    assert parse_qs((req.content or b"").decode()) == {
        "grant_type": ["client_credentials"], "scope": ["llm.invoke"]}
    assert CLIENT_SECRET not in repr(req)


def test_a_token_is_reused_until_shortly_before_it_expires_then_refreshed() -> None:
    clock, sent = Clock(), []

    def send(req: HttpRequest) -> HttpResponse:
        sent.append(req)
        return _ok(f"tok-{len(sent)}-abcdefghijklmnop", expires_in=600)

    token = OAuth2Token(_flow(), send, clock)
    assert token.reveal() == "tok-1-abcdefghijklmnop"
    clock.now += 539  # 600 s token, refreshed 60 s early
    assert token.reveal() == "tok-1-abcdefghijklmnop" and len(sent) == 1
    clock.now += 1
    assert token.reveal() == "tok-2-abcdefghijklmnop" and len(sent) == 2
    assert "tok-" not in repr(token) and CLIENT_SECRET not in repr(token)


@pytest.mark.parametrize(("response", "error", "shown"), [
    (HttpResponse(401, {}, b'{"error": "invalid_client", "error_description": "secret '
                           + CLIENT_SECRET.encode() + b' is wrong"}'),
     AuthenticationError, "invalid_client"),
    (HttpResponse(400, {}, b"not json"), AuthenticationError, "400"),
    (HttpResponse(503, {}, b"down"), ServerError, "503"),
    (HttpResponse(200, {}, b'{"token_type": "Bearer"}'), InvalidResponseError, "no access_token"),
])
def test_a_refused_or_broken_answer_is_a_typed_error_that_leaks_nothing(
    response: HttpResponse, error: type[Exception], shown: str,
) -> None:
    flow = _flow()
    with pytest.raises(error) as info:
        flow.accept(response, 0.0)
    assert shown in str(info.value) and "login.example" in str(info.value)
    assert CLIENT_SECRET not in str(info.value)
    assert flow.needs_token(0.0)


class TokenEndpoint:
    def __init__(self) -> None:
        self.issued = 0

    def answer(self, request: StandinRequest) -> Reply:
        user, _, secret = base64.b64decode(
            request.headers["authorization"].split()[1]).decode().partition(":")
        if (user, secret) != ("app", CLIENT_SECRET):
            return Reply.json({"error": "invalid_client"}, status=401)
        self.issued += 1
        return Reply.json({"access_token": f"at-{self.issued}-Zx9Yw8Vu7Ts6",
                           "token_type": "Bearer", "expires_in": 3600})

    def error(self, request: StandinRequest, status: int, message: str) -> Reply:
        return Reply.json({"error": message}, status=status)

    def stream_error_event(self, request: StandinRequest, message: str) -> bytes:
        return b""


def test_an_oauth2_provider_in_the_registry_calls_with_a_fetched_token(
    sqlite_reg: Registry, primary: StandinServer, echo_registry: PluginRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    endpoint = TokenEndpoint()
    with StandinServer(endpoint) as idp:
        sqlite_reg.put_credential("corp-client", CLIENT_SECRET, actor="a")
        sqlite_reg.create("provider", {
            "identifier": "corp", "name": "Corp", "provider_type": "echo",
            "api_endpoint": primary.url, "auth_method": "oauth2",
            "auth_config": {"token_url": f"{idp.url}/oauth2/token", "client_id": "app",
                            "credential": "corp-client", "scope": "llm"},
        }, actor="a")
        sqlite_reg.add_model("corp", {"name": "m"}, actor="a")
        ask = ChatRequest(messages=[Message.user("hi")],
                          routing=RoutingHints(model="corp:m"))
        with caplog.at_level(logging.DEBUG), \
                Router(registry_config(sqlite_reg), registry=echo_registry) as router:
            assert router.chat(ask).provider == "corp"
            assert router.chat(ask).provider == "corp"
        # a router rebuilt by a live reload keeps the cached token
        with Router(registry_config(sqlite_reg), registry=echo_registry) as router:
            router.chat(ask)
        assert endpoint.issued == 1
        auths = [r.headers.get("authorization") for r in primary.requests]
        assert auths == ["Bearer at-1-Zx9Yw8Vu7Ts6"] * 3
        form = parse_qs(idp.requests[0].body.decode())
        assert form["grant_type"] == ["client_credentials"] and form["scope"] == ["llm"]
        assert CLIENT_SECRET not in caplog.text and "at-1-Zx9Yw8Vu7Ts6" not in caplog.text


def test_an_oauth2_provider_needs_a_token_url_client_id_and_secret(
    sqlite_reg: Registry,
) -> None:
    from polyroute.admin import RegistryValidationError

    base = {"identifier": "o", "name": "O", "provider_type": "echo", "auth_method": "oauth2"}
    cases = [
        ({"client_id": "c", "credential": "s"}, "token_url"),
        ({"token_url": "https://idp.example/t", "credential": "s"}, "client_id"),
        ({"token_url": "https://idp.example/t", "client_id": "c"}, "credential"),
        ({"token_url": "ftp://idp.example/t", "client_id": "c", "credential": "s"},
         "token_url"),
        ({"token_url": "https://u:p@idp.example/t", "client_id": "c", "credential": "s"},
         "token_url"),
        ({"token_url": "https://idp.example/t", "client_id": "c", "credential": "s",
          "headers": {"X-Key": "{{apiKey}}"}}, "headers.X-Key"),
    ]
    for auth, field in cases:
        with pytest.raises(RegistryValidationError) as info:
            sqlite_reg.create("provider", {**base, "auth_config": auth}, actor="a")
        assert info.value.field == f"providers.o.auth_config.{field}", auth
