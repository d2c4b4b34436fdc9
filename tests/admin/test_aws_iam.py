"""``auth_method: aws_iam``: a registry provider signs with the provider type's own SigV4
signing (the Bedrock plugin's), its static AWS keys read from the encrypted store and
never held in clear by the config, the audit log or a repr."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from polyroute.admin import CredentialError, Registry, RegistryValidationError, registry_config
from polyroute.admin.models import AuditRow
from polyroute.router import Router
from polyroute.testing.standin import StandinServer
from polyroute.types import ChatRequest, Message, RoutingHints

pytest.importorskip("polyroute_bedrock", reason="the Bedrock plugin signs aws_iam providers")
from polyroute_bedrock.standin import BedrockResponder

AKID, SECRET = "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
HAIKU = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


def _aws(url: str, **auth: str) -> dict[str, object]:
    return {"identifier": "aws", "name": "AWS", "provider_type": "bedrock", "api_endpoint": url,
            "auth_method": "aws_iam", "auth_config": auth,
            "settings": {"extra": {"region": "us-east-1"}}}


@pytest.fixture
def signed_server() -> Iterator[StandinServer]:
    with StandinServer(BedrockResponder(credentials=(AKID, SECRET))) as server:
        yield server


def test_stored_aws_keys_sign_the_call_and_never_show(
    reg: Registry, signed_server: StandinServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    reg.put_credential("aws-akid", AKID, actor="a")
    reg.put_credential("aws-secret", SECRET, actor="a")
    reg.create("provider", _aws(signed_server.url, access_key_id="aws-akid",
                                secret_access_key="aws-secret"), actor="a")
    reg.add_model("aws", {"name": HAIKU, "context_length": 200000}, actor="a")
    reg.create("route", {"name": "main", "tiers": [[f"aws:{HAIKU}"]]}, actor="a")
    config = registry_config(reg)
    with Router(config) as router:
        resp = router.chat(ChatRequest(messages=[Message.user("hi")],
                                       routing=RoutingHints(task="main")))
    assert resp.provider == "aws" and resp.usage is not None
    assert signed_server.responder.auth_failures == []  # a valid SigV4 signature for AKID
    shown = [repr(config), repr(config.providers["aws"]),
             config.model_dump_json(), caplog.text]
    with reg.reading() as session:
        shown += [repr(r.__dict__) for r in session.execute(select(AuditRow)).scalars()]
    assert not [s for s in shown if SECRET in s]


def test_a_wrong_stored_secret_is_refused_by_the_signature_check(
    reg: Registry, signed_server: StandinServer
) -> None:
    reg.put_credential("aws-akid", AKID, actor="a")
    reg.put_credential("aws-secret", "not-the-secret-0123456789", actor="a")
    reg.create("provider", _aws(signed_server.url, access_key_id="aws-akid",
                                secret_access_key="aws-secret"), actor="a")
    reg.add_model("aws", {"name": HAIKU}, actor="a")
    reg.create("route", {"name": "main", "tiers": [[f"aws:{HAIKU}"]]}, actor="a")
    with Router(registry_config(reg)) as router, pytest.raises(Exception) as info:
        router.chat(ChatRequest(messages=[Message.user("hi")],
                                routing=RoutingHints(task="main")))
    assert signed_server.responder.auth_failures  # the stand-in saw a bad signature
    assert "not-the-secret" not in str(info.value)


@pytest.mark.parametrize(("auth", "field"), [
    ({"access_key_id": "aws-akid"}, "secret_access_key"),
    ({"secret_access_key": "aws-secret"}, "access_key_id"),
    ({"session_token": "aws-token"}, "access_key_id"),
    ({"access_key_id": "aws-akid", "secret_access_key": ""}, "secret_access_key"),
    ({"access_key_id": "aws-akid", "secret_access_key": "s", "region": "x"}, "auth_config"),
])
def test_bad_aws_iam_auth_config_is_refused_naming_the_field(
    sqlite_reg: Registry, auth: dict[str, str], field: str
) -> None:
    with pytest.raises(RegistryValidationError) as info:
        sqlite_reg.create("provider", _aws("https://bedrock-runtime.us-east-1.amazonaws.com",
                                           **auth), actor="a")
    assert field in str(info.value)


def test_a_key_named_but_not_stored_is_a_credential_error(reg: Registry) -> None:
    reg.create("provider", _aws("https://bedrock-runtime.us-east-1.amazonaws.com",
                                access_key_id="aws-akid", secret_access_key="missing"),
               actor="a")
    reg.put_credential("aws-akid", AKID, actor="a")
    with pytest.raises(CredentialError, match="missing"):
        registry_config(reg)


def test_without_static_keys_the_hosts_aws_chain_signs(
    reg: Registry, signed_server: StandinServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No keys in the registry: the provider type's own chain (here the environment; on a
    host, its profile or role) signs — the existing Bedrock signing, unchanged."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", AKID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    reg.create("provider", _aws(signed_server.url), actor="a")
    reg.add_model("aws", {"name": HAIKU}, actor="a")
    reg.create("route", {"name": "main", "tiers": [[f"aws:{HAIKU}"]]}, actor="a")
    with Router(registry_config(reg)) as router:
        resp = router.chat(ChatRequest(messages=[Message.user("hi")],
                                       routing=RoutingHints(task="main")))
    assert resp.provider == "aws" and signed_server.responder.auth_failures == []
