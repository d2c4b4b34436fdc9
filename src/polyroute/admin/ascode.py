"""The registry as code: export it to a YAML-shaped document, plan a document, apply it.

The document holds the registry's own entries (system rows come from the
config file and plugins, which stay their source of truth): providers with
their models, templates, routes, agents, budgets, and the credentials they
name, as references only: an ``env:NAME`` value as written, a stored secret as
its mask. A secret never round-trips: applying a document never writes a
masked value, it needs the secret to be stored already (``polyroute keys set``).

``plan`` compares a document with the registry; ``apply`` makes the registry
match it in one audited transaction (one audit row per change, all committed
or none), and refuses when the registry moved on from the fingerprint the plan
was made against. Fields a document leaves out are left alone on an update and
take their defaults on a create; credentials the document does not name are
never deleted (secrets are managed on their own).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from polyroute.admin.approvals import ApprovalRequiredError, ApprovalsMixin
from polyroute.admin.credentials import CredentialsMixin
from polyroute.admin.errors import (
    CredentialError,
    ReadOnlyEntryError,
    RegistryConflictError,
    RegistryValidationError,
)
from polyroute.admin.models import (
    Agent,
    AuditHead,
    Budget,
    Credential,
    Provider,
    ProviderTemplate,
    Route,
)
from polyroute.admin.secrets import looks_masked

__all__ = ["FORMAT", "Change", "RegistryPlan", "apply_document", "export_document",
           "fingerprint_of", "plan_document"]

FORMAT = 1
"""The document's ``polyroute_registry`` version."""

# section -> (kind, model, key column, the fields a document holds)
_SECTIONS: dict[str, tuple[str, type[Any], str, tuple[str, ...]]] = {
    "providers": ("provider", Provider, "identifier", (
        "name", "description", "provider_type", "template", "api_endpoint", "auth_method",
        "auth_config", "capabilities", "settings", "status")),
    "templates": ("template", ProviderTemplate, "identifier", (
        "name", "description", "provider_config", "default_models")),
    "routes": ("route", Route, "name", ("strategy", "params", "status", "tiers")),
    "agents": ("agent", Agent, "name", ("model", "route", "params", "tags", "fallbacks")),
    "budgets": ("budget", Budget, "name", (
        "scope", "usd", "per", "on_exceed", "timezone", "alerts")),
}
_MODEL_FIELDS = ("context_length", "max_output_tokens", "capabilities", "pricing_info",
                 "status", "is_default")
_TOP = {"polyroute_registry", "credentials", *_SECTIONS}


def fingerprint_of(head: AuditHead | None) -> str:
    """The registry state a plan was made against: the audit chain head."""
    return f"{head.seq}-{head.hash[:16]}" if head is not None else "0-empty"


def _value(row: Any, name: str) -> Any:
    if name == "tiers":
        return [[m.model_ref for m in t.members] for t in row.tiers]
    if name == "fallbacks":
        return [f.model_ref for f in row.fallbacks]
    return getattr(row, name)


def _current(session: Session, keys: Any) -> dict[str, Any]:
    """The registry's own entries in the document's shape (rows kept for the writes)."""
    doc: dict[str, Any] = {"polyroute_registry": FORMAT}
    for section, (_, model, column, fields) in _SECTIONS.items():
        stmt = select(model).order_by(getattr(model, column))
        if section == "providers":
            stmt = stmt.options(selectinload(Provider.models))
        entries: dict[str, Any] = {}
        for row in session.execute(stmt).scalars():
            if getattr(row, "is_system", False):
                continue
            entry = {f: _value(row, f) for f in fields}
            if section == "providers":
                entry["models"] = {m.name: {f: getattr(m, f) for f in _MODEL_FIELDS}
                                   for m in sorted(row.models, key=lambda m: m.name)}
            entries[getattr(row, column)] = entry
        doc[section] = entries
    creds: dict[str, str] = {}
    for c in session.execute(select(Credential).order_by(Credential.name)).scalars():
        if c.is_env_ref:  # a reference, not a secret: safe to write down
            creds[c.name] = keys.decrypt(c.ciphertext, what=f"credential '{c.name}'")
        else:
            creds[c.name] = f"****{c.last_four}" if c.last_four else "****"
    doc["credentials"] = creds
    return doc


def export_document(registry: CredentialsMixin) -> tuple[dict[str, Any], str]:
    """The registry as a document, and the fingerprint it was read at."""
    with registry.reading() as session:
        head = session.get(AuditHead, 1)
        return _current(session, _Lazy(registry)), fingerprint_of(head)


class _Lazy:
    """The keyring, loaded only if an ``env:`` credential needs decrypting."""

    def __init__(self, registry: CredentialsMixin) -> None:
        self.registry = registry

    def decrypt(self, token: bytes, *, what: str) -> str:
        return self.registry._keys().decrypt(token, what=what)


@dataclass(frozen=True)
class Change:
    action: str  # create | update | delete
    kind: str
    key: str
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        sign = {"create": "+", "update": "~", "delete": "-"}[self.action]
        more = f" ({', '.join(self.fields)})" if self.fields else ""
        return f"{sign} {self.kind} {self.key}{more}"


@dataclass
class RegistryPlan:
    fingerprint: str
    changes: list[Change] = field(default_factory=list)
    unchanged: int = 0
    missing_credentials: list[str] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for c in self.changes if c.action == action)

    def summary(self) -> str:
        return (f"{self.count('create')} to create, {self.count('update')} to change, "
                f"{self.count('delete')} to delete, {self.unchanged} unchanged")

    def as_json(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "unchanged": self.unchanged,
                "changes": [{"action": c.action, "kind": c.kind, "key": c.key,
                             "fields": list(c.fields)} for c in self.changes]}


def _check_document(doc: Any, source: str) -> dict[str, Any]:
    """The document's shape, refused field by field before anything is compared."""
    def bad(msg: str, where: str, fix: str) -> RegistryValidationError:
        return RegistryValidationError(msg, file=source, field=where, fix=fix)

    if not isinstance(doc, Mapping):
        raise bad("the registry document must be a mapping of sections", "(top)",
                  "start from `polyroute registry export`")
    unknown = set(doc) - _TOP
    if unknown:
        raise bad(f"unknown section(s): {', '.join(sorted(map(str, unknown)))}",
                  sorted(map(str, unknown))[0], f"use {', '.join(sorted(_TOP))}")
    if doc.get("polyroute_registry", FORMAT) != FORMAT:
        raise bad(f"document format {doc.get('polyroute_registry')!r} is not {FORMAT}",
                  "polyroute_registry", "export it again with this polyroute")
    out: dict[str, Any] = {}
    for section, (_, _, _, fields) in _SECTIONS.items():
        entries = doc.get(section) or {}
        if not isinstance(entries, Mapping):
            raise bad(f"'{section}' must map names to entries", section,
                      f"e.g. {section}: {{name: {{...}}}}")
        allowed = set(fields) | ({"models"} if section == "providers" else set())
        for key, entry in entries.items():
            if not isinstance(entry, Mapping):
                raise bad("an entry must be a mapping of fields", f"{section}.{key}",
                          "give the entry's fields")
            extra = set(entry) - allowed
            if extra:
                name = sorted(map(str, extra))[0]
                raise bad(f"'{name}' is not a field of {section}", f"{section}.{key}.{name}",
                          f"allowed: {', '.join(sorted(allowed))}")
            for mname, m in (entry.get("models") or {}).items():
                if not isinstance(m, Mapping) or set(m) - set(_MODEL_FIELDS):
                    raise bad("a model must be a mapping of model fields",
                              f"{section}.{key}.models.{mname}",
                              f"allowed: {', '.join(_MODEL_FIELDS)}")
        out[section] = {str(k): dict(v) for k, v in entries.items()}
    creds = doc.get("credentials") or {}
    if not isinstance(creds, Mapping) or not all(isinstance(v, str) for v in creds.values()):
        raise bad("'credentials' must map names to 'env:NAME' or a mask", "credentials",
                  "export the registry to see the shape")
    for name, value in creds.items():
        if not value.startswith("env:") and not looks_masked(value):
            # never echo it: it may be a real secret pasted into a file
            raise bad("a credential holds a value, not an env:NAME reference or a mask",
                      f"credentials.{name}",
                      "remove the value from the file (and rotate it if it was a real "
                      "secret); store secrets with: polyroute keys set NAME")
    out["credentials"] = {str(k): v for k, v in creds.items()}
    return out


def _diff(want: dict[str, Any], have: dict[str, Any], fields: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f for f in fields if f in want and want[f] != have.get(f))


def _plan(session: Session, registry: CredentialsMixin, doc: dict[str, Any],
          fingerprint: str, source: str) -> tuple[RegistryPlan, dict[str, Any]]:
    current = _current(session, _Lazy(registry))
    plan = RegistryPlan(fingerprint)
    system: dict[tuple[str, str], str | None] = {}
    for p in session.execute(select(Provider).where(Provider.is_system)).scalars():
        system[("provider", p.identifier)] = p.origin
    for t in session.execute(select(ProviderTemplate).where(ProviderTemplate.is_system)).scalars():
        system[("template", t.identifier)] = t.origin
    for section, (kind, _, _, fields) in _SECTIONS.items():
        want, have = doc[section], current[section]
        for key, entry in want.items():
            if (kind, key) in system:
                raise ReadOnlyEntryError(
                    f"{kind} '{key}' in {source} is a system entry (from "
                    f"{system[(kind, key)]}), read-only in the registry",
                    fix=f"remove it from {source}; change it where it is defined",
                )
            if key not in have:
                plan.changes.append(Change("create", kind, key))
            else:
                changed = _diff(entry, have[key], fields)
                if changed:
                    plan.changes.append(Change("update", kind, key, changed))
                else:
                    plan.unchanged += 1
            if section == "providers":
                _plan_models(plan, key, entry.get("models"), have.get(key, {}).get("models", {}))
        for key in have:
            if key not in want:
                plan.changes.append(Change("delete", kind, key))
    for name, value in doc["credentials"].items():
        stored = current["credentials"].get(name)
        if value.startswith("env:"):
            if stored is None:
                plan.changes.append(Change("create", "credential", name))
            elif stored != value:
                plan.changes.append(Change("update", "credential", name, ("value",)))
            else:
                plan.unchanged += 1
        elif stored is None:
            plan.missing_credentials.append(name)
        else:
            plan.unchanged += 1
    return plan, current


def _plan_models(plan: RegistryPlan, provider: str, want: Any, have: dict[str, Any]) -> None:
    if want is None:
        return  # no models key: the provider's models are left alone
    for name, m in want.items():
        key = f"{provider}:{name}"
        if name not in have:
            plan.changes.append(Change("create", "model", key))
        else:
            changed = _diff(m, have[name], _MODEL_FIELDS)
            if changed:
                plan.changes.append(Change("update", "model", key, changed))
            else:
                plan.unchanged += 1
    for name in have:
        if name not in want:
            plan.changes.append(Change("delete", "model", f"{provider}:{name}"))


def plan_document(registry: CredentialsMixin, document: Any, *,
                  source: str = "the document") -> RegistryPlan:
    """What applying ``document`` would create, change and delete."""
    doc = _check_document(document, source)
    with registry.reading() as session:
        plan, _ = _plan(session, registry, doc, fingerprint_of(session.get(AuditHead, 1)),
                        source)
    return plan


def apply_document(registry: CredentialsMixin, document: Any, *, actor: str,
                   expect: str | None = None, source: str = "the document",
                   request_id: str | None = None) -> RegistryPlan:
    """Make the registry match ``document`` in one audited transaction.

    ``expect``: the fingerprint ``plan`` printed; if the registry changed since,
    nothing is applied (``RegistryConflictError``).
    """
    doc = _check_document(document, source)
    if isinstance(registry, ApprovalsMixin) and registry.require_approval:
        for c in plan_document(registry, doc, source=source).changes:
            action = "put_credential" if c.kind == "credential" else c.action
            data = doc.get(f"{c.kind}s", {}).get(c.key) if c.action == "update" else None
            reason = registry.approval_reason(c.kind, action, c.key, data)
            if reason:
                raise ApprovalRequiredError(
                    f"{source} includes {reason} ({c.kind} '{c.key}'), which needs a second "
                    "admin's approval; nothing was applied",
                    fix="propose that change through the admin API, or take it out of the file",
                )
    with registry.writing() as (session, head):
        now = fingerprint_of(head)
        if expect is not None and expect != now:
            raise RegistryConflictError(
                f"the registry changed since the plan (planned at {expect}, now at {now}); "
                "nothing was applied",
                fix=f"run `polyroute registry plan {source}` again, review it, and apply "
                "with the new fingerprint",
            )
        plan, _ = _plan(session, registry, doc, now, source)
        if plan.missing_credentials:
            names = ", ".join(plan.missing_credentials)
            raise CredentialError(
                f"{source} names credential(s) {names}, not stored in this registry "
                "(a secret is never applied from a file); nothing was applied",
                fix="store each first: polyroute keys set NAME (it prompts for the value)",
            )
        _write(registry, session, head, doc, plan, actor=actor, request_id=request_id)
    return plan


def _write(registry: CredentialsMixin, session: Session, head: AuditHead, doc: dict[str, Any],
           plan: RegistryPlan, *, actor: str, request_id: str | None) -> None:
    kw: dict[str, Any] = {"actor": actor, "request_id": request_id}
    section_of = {kind: s for s, (kind, *_) in _SECTIONS.items()}

    def entry(c: Change) -> dict[str, Any]:
        if c.kind == "model":
            provider, _, name = c.key.partition(":")
            return dict(doc["providers"][provider]["models"][name])
        data = dict(doc[section_of[c.kind]][c.key])
        data.pop("models", None)
        return data

    def version(kind: str, key: str) -> int:
        return int(registry._find(session, kind, key).version)

    def rank(c: Change) -> int:
        # a model goes before its provider and comes after it; a provider's default
        # model is cleared before another becomes the default (one per provider)
        if c.action == "delete":
            return 0 if c.kind == "model" else 1
        if c.kind != "model":
            return 2 if c.action == "create" else 3
        if c.action == "update":
            return 6 if entry(c).get("is_default") else 4
        return 5

    changes = sorted(plan.changes, key=rank)
    for c in changes:
        if c.kind == "credential":
            value = doc["credentials"][c.key]
            ver = None if c.action == "create" else version("credential", c.key)
            registry.put_credential_in(session, head, c.key, value, version=ver, **kw)
        elif c.action == "delete":
            registry.delete_in(session, head, c.kind, c.key, version=version(c.kind, c.key),
                               **kw)
        elif c.action == "create" and c.kind == "model":
            provider, _, name = c.key.partition(":")
            registry.add_model_in(session, head, provider, {"name": name, **entry(c)}, **kw)
        elif c.action == "create":
            column = _SECTIONS[section_of[c.kind]][2]
            registry.create_in(session, head, c.kind, {column: c.key, **entry(c)}, **kw)
        else:
            data = entry(c)
            registry.update_in(session, head, c.kind, c.key, {f: data[f] for f in c.fields},
                               version=version(c.kind, c.key), **kw)
