"""Token rotation and status, and two-person approval, over the REST API."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from admin_api_support import PROVIDER, Api, error_shape

from polyroute.admin import Registry


def _token_id(api: Api, user: str = "viewer-user") -> str:
    tokens = api.get("/tokens", params={"user": user}).json()["items"]
    return str(tokens[0]["token_id"])


def test_rotation_keeps_the_id_and_the_old_secret_works_for_the_grace_window(api: Api) -> None:
    token_id = _token_id(api)
    old = api.tokens["viewer"]
    status = api.get(f"/tokens/{token_id}")
    assert status.status_code == 200 and status.json()["rotated_at"] is None
    r = api.post(f"/tokens/{token_id}/rotate", {"grace_seconds": 3600},
                 if_match=status.headers["ETag"])
    assert r.status_code == 200, r.json()
    body = r.json()
    assert body["token_id"] == token_id and body["secret"].startswith("prt_")
    assert body["secret"] != old and body["previous_valid_until"] is not None
    assert r.headers["Cache-Control"] == "no-store"
    for secret in (old, body["secret"]):  # both work inside the grace window
        ok = api.client.get("/api/admin/providers",
                            headers={"Authorization": f"Bearer {secret}"})
        assert ok.status_code == 200
    after = api.get(f"/tokens/{token_id}").json()
    assert after["version"] == status.json()["version"] + 1 and after["rotated_at"]
    assert "secret" not in after and old not in str(after) and body["secret"] not in str(after)


def test_grace_zero_ends_the_old_secret_at_once(api: Api) -> None:
    token_id = _token_id(api)
    old = api.tokens["viewer"]
    etag = api.get(f"/tokens/{token_id}").headers["ETag"]
    new = api.post(f"/tokens/{token_id}/rotate", {"grace_seconds": 0}, if_match=etag).json()
    refused = api.client.get("/api/admin/providers", headers={"Authorization": f"Bearer {old}"})
    assert refused.status_code == 401
    ok = api.client.get("/api/admin/providers",
                        headers={"Authorization": f"Bearer {new['secret']}"})
    assert ok.status_code == 200


def test_a_retry_with_the_same_idempotency_key_gets_the_same_secret(api: Api) -> None:
    token_id = _token_id(api)
    etag = api.get(f"/tokens/{token_id}").headers["ETag"]
    key = str(uuid.uuid4())
    first = api.post(f"/tokens/{token_id}/rotate", None, if_match=etag,
                     headers={"Idempotency-Key": key})
    again = api.post(f"/tokens/{token_id}/rotate", None, if_match=etag,  # the lost response
                     headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 200
    assert first.json()["secret"] == again.json()["secret"]
    assert again.json()["version"] == first.json()["version"]  # rotated once
    rows = [e for e in api.get("/audit", params={"action": "rotate"}).json()["items"]
            if e["target_key"] == token_id]
    assert len(rows) == 1
    # a new key rotates again; the stale ETag is then refused
    other = api.post(f"/tokens/{token_id}/rotate", None, if_match=etag,
                     headers={"Idempotency-Key": str(uuid.uuid4())})
    assert other.status_code == 412 and other.json()["error"]["code"] == "version_conflict"


def test_rotation_needs_if_match_and_refuses_bad_input(api: Api) -> None:
    token_id = _token_id(api)
    r = api.post(f"/tokens/{token_id}/rotate", None)
    assert r.status_code == 428
    error_shape(r.json())
    etag = api.get(f"/tokens/{token_id}").headers["ETag"]
    for body in ({"grace_seconds": -1}, {"grace_seconds": 10**9}, {"grace": 5}):
        bad = api.post(f"/tokens/{token_id}/rotate", body, if_match=etag)
        assert bad.status_code == 422, body
        error_shape(bad.json())
    long_key = api.post(f"/tokens/{token_id}/rotate", None, if_match=etag,
                        headers={"Idempotency-Key": "k" * 201})
    assert long_key.status_code == 422
    assert api.get("/tokens/tok_nope").status_code == 422  # typed: names the fix
    assert api.post("/tokens/tok_nope/rotate", None, if_match='"1"').status_code == 422


def test_a_revoked_token_cannot_be_rotated(api: Api) -> None:
    token_id = _token_id(api)
    etag = api.get(f"/tokens/{token_id}").headers["ETag"]
    assert api.delete(f"/tokens/{token_id}", if_match=etag).status_code == 204
    etag = api.get(f"/tokens/{token_id}").headers["ETag"]
    r = api.post(f"/tokens/{token_id}/rotate", None, if_match=etag)
    assert r.status_code == 422 and "revoked" in r.json()["error"]["message"]


@pytest.fixture
def guarded(reg: Registry, make_api: Callable[..., Api]) -> tuple[Api, str]:
    """The API with two-person approval on, a provider in it, and a second admin's token."""
    api = make_api(reg, require_approval=True)
    assert api.post("/providers", PROVIDER).status_code == 201
    reg.create("user", {"name": "second-admin", "role": "admin"}, actor="test")
    return api, reg.create_token("second-admin", actor="test")[1]


def test_a_critical_change_made_directly_is_refused_with_the_way_to_propose_it(
    guarded: tuple[Api, str],
) -> None:
    api, _ = guarded
    etag = api.get("/providers/acme").headers["ETag"]
    r = api.delete("/providers/acme", if_match=etag)
    assert r.status_code == 409 and r.json()["error"]["code"] == "approval_required"
    error_shape(r.json())
    assert "propose" in r.json()["error"]["suggestions"][0]
    assert api.get("/providers/acme").status_code == 200


def test_a_second_admin_approves_and_the_change_is_applied(guarded: tuple[Api, str]) -> None:
    api, second = guarded
    etag = api.get("/providers/acme").headers["ETag"]
    proposed = api.post("/approvals", {"kind": "provider", "action": "delete", "key": "acme",
                                       "base_version": int(etag.strip('"'))})
    assert proposed.status_code == 201, proposed.json()
    change = proposed.json()
    assert change["status"] == "pending" and change["reason"] == "deleting a provider"
    listed = api.get("/approvals", role="operator").json()
    assert [c["id"] for c in listed["items"]] == [change["id"]]
    own = api.post(f"/approvals/{change['id']}/approve", None)
    assert own.status_code == 409 and "same person" in own.json()["error"]["message"]
    done = api.client.post(f"/api/admin/approvals/{change['id']}/approve",
                           headers={"Authorization": f"Bearer {second}"})
    assert done.status_code == 200, done.json()
    assert done.json()["status"] == "approved" and done.json()["decided_by"] == "second-admin"
    assert api.get("/providers/acme").status_code == 404
    again = api.client.post(f"/api/admin/approvals/{change['id']}/reject",
                            headers={"Authorization": f"Bearer {second}"})
    assert again.status_code == 409  # already decided
    assert api.get("/approvals").json()["items"] == []
    assert api.get("/audit/verify", role="operator").json()["ok"] is True


def test_a_proposal_on_a_row_that_moved_on_fails_to_apply(guarded: tuple[Api, str]) -> None:
    api, second = guarded
    etag = api.get("/providers/acme").headers["ETag"]
    change = api.post("/approvals", {"kind": "provider", "action": "delete", "key": "acme",
                                     "base_version": int(etag.strip('"'))}).json()
    moved = api.put("/providers/acme", {"description": "edited meanwhile"}, if_match=etag)
    assert moved.status_code == 200
    late = api.client.post(f"/api/admin/approvals/{change['id']}/approve",
                           headers={"Authorization": f"Bearer {second}"})
    assert late.status_code == 412
    assert api.get("/providers/acme").status_code == 200


def test_a_proposed_credential_is_never_shown_and_is_applied_on_approval(
    guarded: tuple[Api, str],
) -> None:
    api, second = guarded
    new_key = "sk-acme-NEWKEY-9876543210-abcd"
    r = api.post("/approvals", {"kind": "credential", "action": "put_credential",
                                "key": "provider:acme", "value": new_key})
    assert r.status_code == 201, r.json()
    assert new_key not in r.text and r.json()["carries_secret"] is True
    assert new_key not in api.get("/approvals").text
    masked = api.post("/approvals", {"kind": "credential", "action": "put_credential",
                                     "key": "provider:acme", "value": "****abcd"})
    assert masked.status_code == 422 and masked.json()["error"]["code"] == "masked_secret"
    change_id = r.json()["id"]
    assert api.client.post(f"/api/admin/approvals/{change_id}/approve",
                           headers={"Authorization": f"Bearer {second}"}).status_code == 200
    assert api.reg.reveal_credential("provider:acme") == new_key
    assert api.get(f"/approvals/{change_id}").json()["carries_secret"] is False
    assert new_key not in api.get("/audit", params={"limit": 200}, role="operator").text


def test_a_rejected_change_applies_nothing(guarded: tuple[Api, str]) -> None:
    api, second = guarded
    change = api.post("/approvals", {"kind": "provider", "action": "delete",
                                     "key": "acme"}).json()
    r = api.client.post(f"/api/admin/approvals/{change['id']}/reject",
                        headers={"Authorization": f"Bearer {second}"})
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert api.get("/providers/acme").status_code == 200
    assert api.get("/approvals", params={"status": "rejected"}).json()["total"] == 1
    assert api.get("/approvals/12345").status_code == 404
    bad = api.post("/approvals", {"kind": "provider", "action": "explode", "key": "acme"})
    assert bad.status_code == 422
