"""Two-person approval: a critical change waits as pending until a second admin approves."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from polyroute.admin import (
    ApprovalRequiredError,
    Registry,
    RegistryConflictError,
    VersionConflictError,
)
from polyroute.admin.ascode import apply_document, export_document

SECRET = "sk-live-Aa1Bb2Cc3Dd4Ee5Ff6Gg7H"
NEW_SECRET = "sk-live-Zz9Yy8Xx7Ww6Vv5Uu4Tt3S"


@pytest.fixture
def strict(reg: Registry) -> Registry:
    reg.put_credential("k", SECRET, actor="alice")
    reg.create("provider", {"identifier": "p", "name": "P", "provider_type": "openai",
                            "auth_config": {"credential": "k"}}, actor="alice")
    reg.create("budget", {"name": "daily", "usd": 5.0}, actor="alice")
    reg.require_approval = True
    return reg


def test_critical_changes_made_directly_are_refused(strict: Registry) -> None:
    with pytest.raises(ApprovalRequiredError, match=r"deleting a provider.*second admin"):
        strict.delete("provider", "p", version=1, actor="alice")
    with pytest.raises(ApprovalRequiredError, match="changing a credential"):
        strict.put_credential("k", NEW_SECRET, actor="alice", version=1)
    with pytest.raises(ApprovalRequiredError, match="raising a budget"):
        strict.update("budget", "daily", {"usd": 50.0}, version=1, actor="alice")
    # not critical: lowering a budget, a new credential, editing a provider
    strict.update("budget", "daily", {"usd": 4.0}, version=1, actor="alice")
    strict.put_credential("other", NEW_SECRET, actor="alice")
    strict.update("provider", "p", {"description": "x"}, version=1, actor="alice")
    assert strict.get("provider", "p").version == 2


def test_a_proposal_is_applied_only_when_a_second_admin_approves(strict: Registry) -> None:
    change = strict.propose("credential", "put_credential", "k", version=1, actor="alice",
                            value=NEW_SECRET)
    assert [c.id for c in strict.pending()] == [change.id]
    assert strict.reveal_credential("k") == SECRET  # nothing applied yet
    assert NEW_SECRET not in repr(change)
    with pytest.raises(RegistryConflictError, match="same person cannot approve"):
        strict.approve(change.id, actor="alice")
    strict.approve(change.id, actor="bob")
    assert strict.reveal_credential("k") == NEW_SECRET and strict.pending() == []
    with pytest.raises(RegistryConflictError, match="already approved"):
        strict.approve(change.id, actor="carol")
    with strict.sessions() as s:  # the copy of the secret is gone once applied
        assert s.execute(text("SELECT secret FROM pending_changes")).scalar() is None
    assert strict.verify_chain().ok


def test_a_stale_proposal_fails_and_a_rejected_one_never_applies(strict: Registry) -> None:
    raise_it = strict.propose("budget", "update", "daily", {"usd": 50.0}, version=1,
                              actor="alice")
    assert "raising a budget" in raise_it.reason
    strict.update("budget", "daily", {"usd": 3.0}, version=1, actor="carol")
    with pytest.raises(VersionConflictError):
        strict.approve(raise_it.id, actor="bob")
    assert strict.get("budget", "daily").usd == 3.0
    drop = strict.propose("provider", "delete", "p", version=1, actor="alice")
    strict.reject(drop.id, actor="bob")
    assert strict.get("provider", "p") is not None
    assert [c.id for c in strict.pending()] == [raise_it.id]  # stale: still to decide


def test_registry_apply_refuses_a_file_with_a_critical_change(
    strict: Registry, tmp_path: Path,
) -> None:
    doc, _ = export_document(strict)
    del doc["providers"]["p"]
    with pytest.raises(ApprovalRequiredError, match="deleting a provider"):
        apply_document(strict, doc, actor="alice")
    assert strict.get("provider", "p") is not None
    doc, _ = export_document(strict)
    doc["budgets"]["daily"]["usd"] = 1.0  # lowering is fine
    apply_document(strict, yaml.safe_load(yaml.safe_dump(doc)), actor="alice")
    assert strict.get("budget", "daily").usd == 1.0
