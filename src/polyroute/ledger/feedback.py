"""Outcomes of calls: ``router.feedback(call_id, score=..., label=...)`` rows in the
ledger's ``feedback`` table, and the per-variant figures experiments read.

A feedback row names a call the ledger holds (``calls.id``, which every answer
carries as ``call_id``); a score is a number in [0, 1] (thumbs up = 1, a 1-5
rating divided by 5...), a label a short text ("accepted", "escalated"). Several
rows for one call are kept (a later rating does not erase an earlier one); the
figures use each call's latest score.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from polyroute.errors import PolyrouteError

__all__ = [
    "FEEDBACK_SCHEMA", "FEEDBACK_SCHEMA_PG", "FeedbackError", "VariantOutcomes", "order_column",
    "record_feedback", "variant_outcomes",
]

FEEDBACK_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    call_id TEXT NOT NULL, ts REAL NOT NULL, score REAL, label TEXT, comment TEXT);
CREATE INDEX IF NOT EXISTS feedback_call ON feedback (call_id);
"""
FEEDBACK_SCHEMA_PG = (
    "CREATE TABLE IF NOT EXISTS feedback (id BIGSERIAL PRIMARY KEY, call_id TEXT NOT NULL, "
    "ts DOUBLE PRECISION NOT NULL, score DOUBLE PRECISION, label TEXT, comment TEXT)",
    "CREATE INDEX IF NOT EXISTS feedback_call ON feedback (call_id)",
)
"""The same table on a PostgreSQL ledger (``id`` orders rows of one instant, as
SQLite's ``rowid`` does)."""


def order_column(ph: str) -> str:
    """What orders feedback rows written in the same instant: SQLite's rowid or
    PostgreSQL's serial id (``ph`` tells which database the connection is)."""
    return "rowid" if ph == "?" else "id"
_MAX_TEXT = 500


class FeedbackError(PolyrouteError):
    """Feedback that cannot be stored: names what was wrong and how to fix it."""

    def __init__(self, message: str, *, fix: str) -> None:
        self.reason, self.fix = message, fix
        super().__init__(f"{message} — fix: {fix}")


def _check(call_id: object, score: object, label: object, comment: object) -> None:
    if not isinstance(call_id, str) or not call_id or len(call_id) > 64:
        raise FeedbackError(f"call_id must be the call's id (a short string), got {call_id!r:.80}",
                            fix="pass response.call_id (response_metadata['polyroute']"
                                "['call_id'] in LangChain)")
    if score is None and label is None:
        raise FeedbackError("feedback needs a score or a label",
                            fix="pass score=0..1 (e.g. 1.0 for thumbs up) or label='accepted'")
    if score is not None:
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise FeedbackError(f"score must be a number in [0, 1], got {score!r:.80}",
                                fix="scale ratings into [0, 1] (a 4/5 is 0.8)")
        if not (math.isfinite(score) and 0.0 <= score <= 1.0):
            raise FeedbackError(f"score must be a number in [0, 1], got {score!r}",
                                fix="scale ratings into [0, 1] (a 4/5 is 0.8)")
    for name, text in (("label", label), ("comment", comment)):
        if text is not None and (not isinstance(text, str) or len(text) > _MAX_TEXT):
            raise FeedbackError(f"{name} must be a string of at most {_MAX_TEXT} characters",
                                fix=f"shorten the {name}")


def record_feedback(
    conn: Any, call_id: str, *, score: float | None = None,
    label: str | None = None, comment: str | None = None, tenant: str | None = None,
    now: float | None = None, ph: str = "?",
) -> None:
    """Store one outcome for ``call_id``; ``FeedbackError`` if the ledger holds no such
    call or (``tenant`` given) the call belongs to another tenant. ``conn`` is a SQLite
    connection (``ph`` ``?``) or an autocommit PostgreSQL one (``ph`` ``%s``)."""
    _check(call_id, score, label, comment)
    row = conn.execute(f"SELECT tenant FROM calls WHERE id = {ph}", (call_id,)).fetchone()
    # another tenant's call reads exactly like a missing one: ids are not an oracle
    if row is None or (tenant is not None and row[0] != tenant):
        raise FeedbackError(f"no call {call_id!r} in the usage ledger"
                            + (f" for tenant {tenant!r}" if tenant is not None else ""),
                            fix="send feedback for a call this router (and tenant) made, "
                                "with the ledger on (ledger: {})")
    conn.execute("INSERT INTO feedback (call_id, ts, score, label, comment) "
                 f"VALUES ({ph}, {ph}, {ph}, {ph}, {ph})",
                 (call_id, time.time() if now is None else now,
                  None if score is None else float(score), label, comment))


@dataclass(frozen=True)
class VariantOutcomes:
    """Scored calls of one variant: how many, and how many at or above the success mark."""

    scored: int = 0
    successes: int = 0

    @property
    def failures(self) -> int:
        return self.scored - self.successes


def variant_outcomes(
    target: str | os.PathLike[str], experiment: str, success_score: float = 0.5,
) -> Mapping[str, VariantOutcomes]:
    """Per variant of ``experiment``: its scored calls (each call's latest score), from a
    ledger file or a PostgreSQL ledger URL."""
    from polyroute.ledger.reader import open_reader

    with open_reader(os.fspath(target)) as (conn, ph):
        if ph != "?" and conn.execute("SELECT to_regclass('feedback')").fetchone()[0] is None:
            return {}  # a PostgreSQL ledger no writer of this release has opened yet
        rows = conn.execute(
            f"""SELECT c.variant, COUNT(*), SUM(CASE WHEN f.score >= {ph} THEN 1 ELSE 0 END)
               FROM calls c JOIN (
                   SELECT call_id, score, ROW_NUMBER() OVER (
                       PARTITION BY call_id ORDER BY ts DESC, {order_column(ph)} DESC) AS n
                   FROM feedback WHERE score IS NOT NULL) f
               ON f.call_id = c.id AND f.n = 1
               WHERE c.experiment = {ph} GROUP BY c.variant""",
            (success_score, experiment)).fetchall()
    return {str(v): VariantOutcomes(int(n), int(s or 0)) for v, n, s in rows}
