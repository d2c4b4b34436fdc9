"""Any value handed to the feedback API is stored or refused with ``FeedbackError``:
never another exception, never a row with a value outside [0, 1]."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from polyroute.ledger import connect_ledger
from polyroute.ledger.feedback import FeedbackError, record_feedback

VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True),
                   st.text(max_size=600), st.binary(max_size=5), st.lists(st.integers(),
                                                                          max_size=2))


@settings(max_examples=120, deadline=None)
@given(call_id=st.one_of(st.just("known"), VALUES), score=VALUES, label=VALUES,
       tenant=st.one_of(st.none(), st.sampled_from(["acme", "globex"])))
def test_feedback_values_are_stored_or_refused_by_name(
        tmp_path_factory: Any, call_id: Any, score: Any, label: Any, tenant: Any) -> None:
    db: Path = tmp_path_factory.mktemp("fb") / "u.db"
    conn = connect_ledger(db)
    try:
        conn.execute("INSERT INTO calls (id, ts, status, tenant) VALUES ('known', 1, 'ok', "
                     "'acme')")
        try:
            record_feedback(conn, call_id, score=score, label=label, tenant=tenant)
        except FeedbackError as exc:
            assert exc.fix  # says how to fix it
            assert conn.execute("SELECT COUNT(*) FROM feedback").fetchone() == (0,)
            return
        (stored,) = conn.execute("SELECT call_id, score, label FROM feedback").fetchall()
        assert call_id == "known" and tenant in (None, "acme")
        assert stored[1] is None or 0.0 <= stored[1] <= 1.0
        assert stored[2] is None or (isinstance(stored[2], str) and len(stored[2]) <= 500)
    finally:
        conn.close()


def test_feedback_table_exists_in_a_fresh_ledger(tmp_path: Path) -> None:
    connect_ledger(tmp_path / "u.db").close()
    with sqlite3.connect(tmp_path / "u.db") as conn:
        cols = [r[1] for r in conn.execute("PRAGMA table_info(feedback)")]
    assert cols == ["call_id", "ts", "score", "label", "comment"]
