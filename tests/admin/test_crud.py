"""CRUD for every registry table through the repository, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from polyroute.admin import (
    Registry,
    RegistryConflictError,
    RegistryNotFoundError,
    RegistryValidationError,
)
from polyroute.admin.models import AuditRow, RouteTier, TierMember

PROVIDER: dict[str, Any] = {
    "identifier": "acme", "name": "Acme AI", "description": "an OpenAI-compatible API",
    "provider_type": "openai", "api_endpoint": "https://api.acme.test/v1",
    "auth_method": "api_key", "capabilities": ["tools"],
    "auth_config": {"credential": "acme-key",
                    "headers": {"Authorization": "Bearer {{apiKey}}"}},
    "settings": {"rpm": 600},
}


def _audit_count(reg: Registry) -> int:
    with reg.reading() as s:
        return int(s.execute(select(func.count()).select_from(AuditRow)).scalar_one())


def test_provider_create_read_update_delete(reg: Registry) -> None:
    p = reg.create("provider", PROVIDER, actor="alice")
    assert (p.version, p.status, p.is_system, p.created_by) == (1, "active", False, "alice")
    got = reg.get("provider", "acme")
    assert got.auth_config["headers"] == {"Authorization": "Bearer {{apiKey}}"}
    assert got.created_at is not None and got.updated_at is not None
    p2 = reg.update("provider", "acme", {"status": "testing", "description": "d"},
                    version=1, actor="bob")
    assert (p2.version, p2.status) == (2, "testing")
    assert [x.identifier for x in reg.list("provider")] == ["acme"]
    reg.delete("provider", "acme", version=2, actor="bob")
    with pytest.raises(RegistryNotFoundError, match="no provider 'acme'"):
        reg.get("provider", "acme")
    assert _audit_count(reg) == 3


def test_provider_duplicate_and_bad_fields_are_typed(reg: Registry) -> None:
    reg.create("provider", PROVIDER, actor="a")
    with pytest.raises(RegistryConflictError):
        reg.create("provider", PROVIDER, actor="a")
    with pytest.raises(RegistryValidationError) as info:
        reg.create("provider", {**PROVIDER, "identifier": "b", "auth_method": "magic"}, actor="a")
    assert info.value.field == "providers.b.auth_method"
    with pytest.raises(RegistryValidationError, match="'colour' is not a field"):
        reg.create("provider", {**PROVIDER, "identifier": "c", "colour": "red"}, actor="a")
    with pytest.raises(RegistryValidationError, match="'version' is not a field"):
        reg.update("provider", "acme", {"version": 9}, version=1, actor="a")
    assert _audit_count(reg) == 1  # refused changes leave no audit row


def test_models_unique_per_provider_and_one_default(reg: Registry) -> None:
    reg.create("provider", PROVIDER, actor="a")
    m = reg.add_model("acme", {"name": "big", "context_length": 128000, "is_default": True,
                               "pricing_info": {"input": 2.5, "output": 10.0},
                               "capabilities": ["tools", "vision"]}, actor="a")
    assert (m.version, m.status, m.key) == (1, "active", "acme:big")
    reg.add_model("acme", {"name": "free", "pricing_info": {"input": 0, "output": 0}}, actor="a")
    with pytest.raises(RegistryConflictError):
        reg.add_model("acme", {"name": "big"}, actor="a")
    with pytest.raises(RegistryConflictError):  # the database's partial unique index
        reg.add_model("acme", {"name": "other", "is_default": True}, actor="a")
    with pytest.raises(RegistryConflictError):
        reg.update("model", "acme:free", {"is_default": True}, version=1, actor="a")
    reg.update("model", "acme:big", {"is_default": False}, version=1, actor="a")
    free = reg.update("model", "acme:free", {"is_default": True, "status": "deprecated"},
                      version=1, actor="a")
    assert (free.is_default, free.status, free.pricing_info) == (
        True, "deprecated", {"input": 0, "output": 0})
    reg.delete("model", "acme:big", version=2, actor="a")
    assert [x.name for x in reg.list("model")] == ["free"]


@pytest.mark.parametrize("bad", [
    {"context_length": -1}, {"context_length": 0},
    {"pricing_info": {"input": float("nan")}}, {"pricing_info": {"output": float("inf")}},
    {"pricing_info": {"input": -1}}, {"status": "retired"}, {"capabilities": ["telepathy"]},
])
def test_models_refuse_bad_values(sqlite_reg: Registry, bad: dict[str, Any]) -> None:
    reg = sqlite_reg
    reg.create("provider", PROVIDER, actor="a")
    with pytest.raises(RegistryValidationError) as info:
        reg.add_model("acme", {"name": "m", **bad}, actor="a")
    assert (info.value.field or "").startswith("models.acme:m.")
    assert reg.list("model") == []


def test_templates_crud(reg: Registry) -> None:
    t = reg.create("template", {"identifier": "acme-compat", "name": "Acme compatible",
                                "provider_config": {"type": "openai",
                                                    "base_url": "https://x.test/v1"},
                                "default_models": ["m1", "m2"]}, actor="a")
    assert (t.version, t.is_system) == (1, False)
    t2 = reg.update("template", "acme-compat", {"default_models": ["m1"]}, version=1, actor="a")
    assert t2.default_models == ["m1"]
    reg.delete("template", "acme-compat", version=2, actor="a")
    assert reg.list("template") == []


def test_routes_keep_tiers_as_rows(reg: Registry) -> None:
    r = reg.create("route", {"name": "code", "strategy": "lowest_cost",
                             "tiers": [["a:x", "b:y"], "c:z"]}, actor="a")
    assert r.version == 1
    reg.add_tier_member("code", 1, "d:w", actor="b")  # a row, no route version needed
    reg.add_tier_member("code", 2, "e:v", actor="b")  # one past the end: a new tier
    with reg.reading() as s:
        tiers = s.execute(select(RouteTier).order_by(RouteTier.position)).scalars().all()
        members = s.execute(select(TierMember)).scalars().all()
        assert [t.position for t in tiers] == [0, 1, 2]
        assert sorted(m.model_ref for m in members) == ["a:x", "b:y", "c:z", "d:w", "e:v"]
    with pytest.raises(RegistryValidationError, match="no tier 7"):
        reg.add_tier_member("code", 7, "f:u", actor="b")
    assert reg.get("route", "code").version == 3  # each added member moved the route on
    r2 = reg.update("route", "code", {"tiers": [["a:x"]]}, version=3, actor="a")
    assert r2.version == 4
    assert [[m.model_ref for m in t.members] for t in r2.tiers] == [["a:x"]]
    with pytest.raises(RegistryValidationError, match="at least one tier"):
        reg.create("route", {"name": "empty", "tiers": []}, actor="a")
    reg.delete("route", "code", version=4, actor="a")
    with reg.reading() as s:
        assert s.execute(select(func.count()).select_from(TierMember)).scalar_one() == 0


def test_agents_and_fallbacks(reg: Registry) -> None:
    a = reg.create("agent", {"name": "swe", "model": "a:x", "fallbacks": ["b:y", "c:z"],
                             "params": {"temperature": 0.2}}, actor="a")
    assert [f.model_ref for f in a.fallbacks] == ["b:y", "c:z"]
    with pytest.raises(RegistryValidationError, match="either 'model' or 'route'"):
        reg.create("agent", {"name": "bad", "model": "a:x", "route": "r"}, actor="a")
    with pytest.raises(RegistryValidationError):
        reg.create("agent", {"name": "bad2", "model": "a:x",
                             "params": {"temperature": "hot"}}, actor="a")
    a2 = reg.update("agent", "swe", {"fallbacks": ["c:z"]}, version=1, actor="a")
    assert [f.model_ref for f in a2.fallbacks] == ["c:z"]
    reg.delete("agent", "swe", version=2, actor="a")


@pytest.mark.parametrize("usd", [0, -5, float("nan"), float("inf"), 1e400])
def test_budgets_refuse_non_finite_or_non_positive(sqlite_reg: Registry, usd: float) -> None:
    reg = sqlite_reg
    with pytest.raises(RegistryValidationError) as info:
        reg.create("budget", {"name": "b", "usd": usd}, actor="a")
    assert info.value.field == "budgets.b.usd"


def test_budgets_crud(reg: Registry) -> None:
    b = reg.create("budget", {"name": "daily", "usd": 50.0, "scope": "provider:acme",
                              "per": "day"}, actor="a")
    assert (b.version, b.on_exceed, b.alerts) == (1, "block", [0.5, 0.8, 1.0])
    with pytest.raises(RegistryValidationError):
        reg.update("budget", "daily", {"scope": "planet:mars"}, version=1, actor="a")
    b2 = reg.update("budget", "daily", {"usd": 75.5}, version=1, actor="a")
    assert b2.usd == 75.5
    reg.delete("budget", "daily", version=2, actor="a")


def test_users_and_tokens(reg: Registry) -> None:
    u = reg.create("user", {"name": "ops", "role": "operator"}, actor="admin")
    assert u.role == "operator"
    with pytest.raises(RegistryValidationError):
        reg.create("user", {"name": "x", "role": "root"}, actor="admin")
    token_id, secret = reg.create_token("ops", actor="admin")
    user = reg.authenticate(secret)
    assert user is not None and user.name == "ops"
    assert reg.authenticate(secret + "x") is None
    with reg.reading() as s:
        from polyroute.admin.models import ApiToken

        tok = s.execute(select(ApiToken)).scalar_one()
        assert tok.token_id == token_id and secret not in tok.token_hash
    _, expired = reg.create_token("ops", actor="admin",
                                  expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert reg.authenticate(expired) is None
    reg.revoke_token(token_id, version=1, actor="admin")
    assert reg.authenticate(secret) is None
    reg.delete("user", "ops", version=1, actor="admin")
    assert reg.list("user") == []


def test_unknown_kind_is_typed(reg: Registry) -> None:
    with pytest.raises(RegistryValidationError, match="unknown registry kind 'widget'"):
        reg.create("widget", {}, actor="a")


@pytest.mark.parametrize(("field", "value"), [
    ("identifier", "x" * 10_000), ("name", "nul\x00byte"), ("description", "ok"),
])
def test_hostile_strings_are_refused_before_the_database(
    reg: Registry, field: str, value: str
) -> None:
    data = {**PROVIDER, field: value}
    if value == "ok":
        data["settings"] = {"extra": {"ratio": float("nan")}}  # NaN inside JSON
    with pytest.raises(RegistryValidationError):
        reg.create("provider", data, actor="a")
    assert reg.list("provider") == []


def test_huge_numbers_are_refused(reg: Registry) -> None:
    reg.create("provider", PROVIDER, actor="a")
    with pytest.raises(RegistryValidationError, match="out of range"):
        reg.add_model("acme", {"name": "m", "context_length": 10**30}, actor="a")
    with pytest.raises(RegistryValidationError):
        reg.add_model("acme", {"name": "m", "pricing_info": {"input": 1e400}}, actor="a")
    assert reg.list("model") == []
