"""Secrets are write-only: a masked value sent back is refused, and a credential's clear
text appears in no API response, audit row, log line or byte of the database file."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from admin_api_support import API, PROVIDER, Api, error_shape

from polyroute.admin import Registry
from polyroute.testing.standin import Reply, StandinRequest, StandinServer
from polyroute_openai.standin import OpenAIResponder

SECRETS = ["sk-live-SCAN-0123456789-abcdefQRST", "sk-live-SCAN-9876543210-zyxwvuLMNO",
           "sk-live-SCAN-5555555555-templateKEY"]


class Echoing(OpenAIResponder):
    """A provider whose 401 quotes the key it was sent, as some real ones do."""

    def error(self, request: StandinRequest, status: int, message: str) -> Reply:
        sent = request.headers.get("authorization", "")
        return super().error(request, status, f"{message} You sent: {sent}")


@pytest.mark.parametrize("masked", ["****QRST", "sk-l…QRST", "sk-live-****-QRST",
                                    "[REDACTED]", "••••••QRST"])
def test_a_masked_value_sent_back_is_refused(lite: Api, masked: str) -> None:
    assert lite.post("/providers", {**PROVIDER, "api_key": SECRETS[0]}).status_code == 201
    shown = lite.get("/providers/acme").json()["credential"]["masked"]
    assert shown == "****QRST"
    r = lite.put("/providers/acme", {"description": "x", "api_key": masked}, if_match='"1"')
    assert r.status_code == 422
    error_shape(r.json())
    assert (r.json()["error"]["code"], r.json()["error"]["field"]) == ("masked_secret",
                                                                      "api_key")
    assert lite.reg.reveal_credential("provider:acme") == SECRETS[0]
    assert lite.get("/providers/acme").json()["version"] == 1  # nothing half-applied
    r = lite.post("/providers", {**PROVIDER, "identifier": "b", "api_key": masked})
    assert r.status_code == 422 and r.json()["error"]["code"] == "masked_secret"


def test_a_literal_secret_is_not_accepted_as_a_credential_name(lite: Api) -> None:
    r = lite.post("/providers", {"identifier": "acme", "provider_type": "openai",
                                 "auth_config": {"credential": SECRETS[0]}})
    assert r.status_code == 422 and r.json()["error"]["field"] == "auth_config.credential"
    assert SECRETS[0] not in r.text
    r = lite.post("/providers", {"identifier": "acme", "provider_type": "openai",
                                 "auth_config": {"credential": "env:ACME_KEY"}})
    assert r.status_code == 201
    assert r.json()["credential"] == {"set": True, "masked": "env:ACME_KEY"}


def test_secret_scan(sqlite_reg: Registry, make_api: Callable[..., Api], tmp_path: Path,
                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    api = make_api(sqlite_reg, allow_private_endpoints=True)
    seen: list[str] = []

    def keep(r) -> None:  # type: ignore[no-untyped-def]
        seen.append(r.text + "\n" + "\n".join(f"{k}: {v}" for k, v in r.headers.items()))

    with StandinServer(Echoing(require_api_key="sk-the-right-one-000000")) as server:
        for r in (
            api.post("/providers", {**PROVIDER, "api_endpoint": server.url + "/v1",
                                    "api_key": SECRETS[0]}),
            api.post("/providers/acme/models", {"name": "gpt-4.1-mini", "is_default": True}),
            api.get("/providers/acme"), api.get("/providers"),
            api.put("/providers/acme", {"api_key": SECRETS[1]}, if_match='"1"'),
            api.post("/providers/acme/test"),  # the stand-in quotes the key in its 401
            api.get("/providers/acme"), api.get("/providers/acme/models"),
            api.put("/providers/acme", {"api_key": SECRETS[1][:-4] + "****"},
                    if_match='"3"'),
            api.put("/providers/acme", {"auth_method": "nope", "api_key": SECRETS[0]},
                    if_match='"3"'),
            api.post("/provider-templates", {"identifier": "t", "provider_config": {
                "provider_type": "openai", "api_endpoint": server.url + "/v1"}}),
            api.post("/provider-templates/t/apply", {"identifier": "t1",
                                                     "api_key": SECRETS[2]}),
            api.get("/providers/t1"),
            api.client.get(API + "/providers", params={"api_key": SECRETS[0]}),
            api.get("/audit", params={"limit": 200}), api.get("/audit/verify"),
            api.delete("/providers/acme", if_match=api.get("/providers/acme").headers["ETag"]),
            api.get("/providers/registry-status"),
        ):
            keep(r)
        assert server.requests, "the connectivity test reached the stand-in"
    assert '"ok":false' in seen[5].replace(" ", "")  # the test ran and failed on auth
    audit_rows = []
    with sqlite_reg.reading() as session:
        from sqlalchemy import text

        for table in ("audit_log", "providers", "credentials", "provider_templates"):
            audit_rows += [repr(tuple(row)) for row in session.execute(
                text(f"SELECT * FROM {table}"))]
    sqlite_reg.close()
    db_dir = Path(str(sqlite_reg.sessions.kw["bind"].url.database)).parent
    files = b"".join(p.read_bytes() for p in db_dir.iterdir() if p.is_file())
    # the server's logs; the test client's own request log (httpx) shows what it sent
    logs = "\n".join(f"{rec.getMessage()} {rec.__dict__}" for rec in caplog.records
                     if not rec.name.startswith("httpx"))
    for secret in SECRETS:
        for what, text_ in (("responses", "\n".join(seen)), ("audit/tables",
                            "\n".join(audit_rows)), ("logs", logs)):
            assert secret not in text_, f"{what} leak {secret}"
            assert secret[8:] not in text_, f"{what} leak part of {secret}"
        assert secret.encode() not in files, f"the database files hold {secret}"
