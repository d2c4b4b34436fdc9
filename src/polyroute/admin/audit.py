"""The tamper-evident audit chain.

Each change is recorded by a row written in the same transaction as the change
(no queue: a change without its audit row cannot commit). The row's ``hash``
covers its canonical JSON ``body`` and the previous row's hash, so an edited,
deleted or reordered row breaks the chain where it happened. Writers serialise
on the one-row ``audit_head`` (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's
``BEGIN IMMEDIATE`` already holds the database write lock), so concurrent
writers and processes never fork the chain; the head also catches rows cut
off the end. Secrets are masked before anything is hashed or stored.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from polyroute.admin.models import AuditHead, AuditRow
from polyroute.secrets import redact

__all__ = [
    "GENESIS", "ChainReport", "export_jsonl", "lock_chain", "mask_secrets", "record",
    "verify_chain",
]

GENESIS = "0" * 64
_MASK = "**********"
_SECRET_KEY = re.compile(
    r"(?i)(secret|token|password|passwd|credential_value|api_?key$|^value$|ciphertext)"
)


def mask_secrets(value: Any, *, name: str = "") -> Any:
    """``value`` with secret-named fields masked and key-shaped strings scrubbed."""
    if isinstance(value, dict):
        return {str(k): mask_secrets(v, name=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_secrets(v, name=name) for v in value]
    if isinstance(value, bytes):
        return _MASK
    if isinstance(value, str):
        if name and _SECRET_KEY.search(name) and not value.startswith("env:"):
            return _MASK
        return redact(value)
    return value


def _digest(prev_hash: str, body: str) -> str:
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def lock_chain(session: Session) -> AuditHead:
    """Take the chain lock for this transaction and return the head."""
    stmt = select(AuditHead).where(AuditHead.id == 1)
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    head = session.execute(stmt).scalar_one_or_none()
    if head is None:  # only if someone deleted it; start a visible new segment
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    return head


def record(
    session: Session, head: AuditHead, *, actor: str, action: str, target_type: str,
    target_key: str, before: dict[str, Any] | None, after: dict[str, Any] | None,
    request_id: str | None = None,
) -> AuditRow:
    """Append one row to the chain (call with the lock from ``lock_chain`` held)."""
    at = datetime.now(UTC).isoformat(timespec="microseconds")
    content = {
        "at": at, "actor": actor, "request_id": request_id, "action": action,
        "target_type": target_type, "target_key": target_key,
        "before": mask_secrets(before), "after": mask_secrets(after),
    }
    body = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    row = AuditRow(
        seq=head.seq + 1, at=at, actor=actor, request_id=request_id, action=action,
        target_type=target_type, target_key=target_key, body=body,
        prev_hash=head.hash, hash=_digest(head.hash, body),
    )
    session.add(row)
    head.seq, head.hash = row.seq, row.hash
    return row


@dataclass(frozen=True)
class ChainReport:
    """``ok``, or the first problem: which row (``seq``) and what happened to it."""

    ok: bool
    rows: int
    seq: int | None = None
    problem: Literal["changed", "deleted", "reordered"] | None = None
    detail: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"audit chain intact: {self.rows} row(s)"
        return f"audit chain broken at row {self.seq}: {self.problem} — {self.detail}"


_COLUMNS = ("at", "actor", "request_id", "action", "target_type", "target_key")


def _body_matches(row: AuditRow) -> bool:
    try:
        content = json.loads(row.body)
    except ValueError:
        return False
    return isinstance(content, dict) and all(
        content.get(c) == getattr(row, c) for c in _COLUMNS
    )


def verify_chain(session: Session) -> ChainReport:
    """Re-walk the whole chain; name the first row changed, deleted or reordered."""
    rows = list(session.execute(select(AuditRow).order_by(AuditRow.seq)).scalars())
    by_hash = {r.hash: r.seq for r in rows}
    prev, expected = GENESIS, 1
    for r in rows:
        if _digest(r.prev_hash, r.body) != r.hash or not _body_matches(r):
            return ChainReport(False, len(rows), r.seq, "changed",
                               "its content no longer matches its hash")
        if r.prev_hash != prev:
            if r.seq != expected:
                return ChainReport(False, len(rows), expected, "deleted",
                                   f"rows {expected}..{r.seq - 1} are missing")
            if r.prev_hash in by_hash:
                return ChainReport(
                    False, len(rows), r.seq, "reordered",
                    f"it follows row {by_hash[r.prev_hash]} in the chain, not row {r.seq - 1}",
                )
            return ChainReport(False, len(rows), r.seq, "deleted",
                               "the row it was chained to is gone")
        if r.seq != expected:
            return ChainReport(False, len(rows), r.seq, "changed",
                               f"its sequence number was {expected}")
        prev, expected = r.hash, r.seq + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq, head.hash) != (expected - 1, prev):
        if head.seq > expected - 1:
            return ChainReport(False, len(rows), expected, "deleted",
                               f"rows {expected}..{head.seq} were cut off the end")
        return ChainReport(False, len(rows), head.seq, "changed",
                           "the chain head does not match the last row")
    return ChainReport(True, len(rows))


def export_jsonl(session: Session, out: IO[str], *, after_seq: int = 0) -> int:
    """Write rows after ``after_seq`` as JSON Lines for a SIEM: seq, hashes and the
    hashed body, so the receiver can re-verify the chain on its side."""
    n = 0
    for r in session.execute(
        select(AuditRow).where(AuditRow.seq > after_seq).order_by(AuditRow.seq)
    ).scalars():
        line = {"seq": r.seq, "prev_hash": r.prev_hash, "hash": r.hash, "body": r.body}
        out.write(json.dumps(line, separators=(",", ":")) + "\n")
        n += 1
    return n
