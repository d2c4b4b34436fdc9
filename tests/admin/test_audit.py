"""The audit chain: written with the change, verified, tamper caught where it happened."""

from __future__ import annotations

from itertools import pairwise

import pytest
from sqlalchemy import func, select, text

from polyroute.admin import Registry, RegistryConflictError, VersionConflictError
from polyroute.admin.models import AuditRow


def _seed(reg: Registry, n: int = 6) -> None:
    for i in range(n):
        reg.create("budget", {"name": f"b{i}", "usd": 10.0 + i}, actor="alice")


def _raw(reg: Registry, sql: str, **params: object) -> None:
    with reg.sessions() as s, s.begin():
        s.execute(text(sql), params)


def test_every_change_has_one_chained_row(reg: Registry) -> None:
    _seed(reg, 3)
    reg.update("budget", "b1", {"usd": 99.0}, version=1, actor="bob", request_id="req-7")
    reg.delete("budget", "b2", version=1, actor="carol")
    report = reg.verify_chain()
    assert report.ok and report.rows == 5, str(report)
    with reg.reading() as s:
        rows = s.execute(select(AuditRow).order_by(AuditRow.seq)).scalars().all()
        assert [(r.seq, r.action, r.actor) for r in rows][-2:] == [
            (4, "update", "bob"), (5, "delete", "carol")]
        assert rows[3].request_id == "req-7" and '"usd":99.0' in rows[3].body
        assert all(b.prev_hash == a.hash for a, b in pairwise(rows))


def test_a_refused_change_writes_no_audit_row(reg: Registry) -> None:
    _seed(reg, 1)
    with pytest.raises(RegistryConflictError):
        reg.create("budget", {"name": "b0", "usd": 1.0}, actor="x")
    with pytest.raises(VersionConflictError):
        reg.update("budget", "b0", {"usd": 2.0}, version=7, actor="x")
    with reg.reading() as s:
        assert s.execute(select(func.count()).select_from(AuditRow)).scalar_one() == 1
    assert reg.verify_chain().ok


def test_an_edited_row_is_named(reg: Registry) -> None:
    _seed(reg)
    _raw(reg, "UPDATE audit_log SET body = replace(body, 'alice', 'mallory') WHERE seq = 3")
    report = reg.verify_chain()
    assert (report.ok, report.seq, report.problem) == (False, 3, "changed")
    assert "row 3" in str(report)


def test_an_edited_column_outside_the_body_is_named(reg: Registry) -> None:
    _seed(reg)
    _raw(reg, "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    report = reg.verify_chain()
    assert (report.seq, report.problem) == (2, "changed")


def test_a_deleted_row_is_named(reg: Registry) -> None:
    _seed(reg)
    _raw(reg, "DELETE FROM audit_log WHERE seq = 4")
    report = reg.verify_chain()
    assert (report.ok, report.seq, report.problem) == (False, 4, "deleted")


def test_rows_cut_off_the_end_are_named(reg: Registry) -> None:
    _seed(reg)
    _raw(reg, "DELETE FROM audit_log WHERE seq >= 5")
    report = reg.verify_chain()
    assert (report.seq, report.problem) == (5, "deleted")


def test_reordered_rows_are_named(reg: Registry) -> None:
    _seed(reg)
    # swap rows 3 and 4 (through a free sequence number: seq is unique)
    _raw(reg, "UPDATE audit_log SET seq = 1000 WHERE seq = 3")
    _raw(reg, "UPDATE audit_log SET seq = 3 WHERE seq = 4")
    _raw(reg, "UPDATE audit_log SET seq = 4 WHERE seq = 1000")
    report = reg.verify_chain()
    assert (report.ok, report.seq, report.problem) == (False, 3, "reordered")


def test_an_empty_chain_is_intact(reg: Registry) -> None:
    report = reg.verify_chain()
    assert report.ok and report.rows == 0


def test_stale_and_missing_versions_are_conflicts(reg: Registry) -> None:
    _seed(reg, 1)
    reg.update("budget", "b0", {"usd": 11.0}, version=1, actor="a")
    for stale in (1, 3, None, True):
        with pytest.raises(VersionConflictError) as info:
            reg.update("budget", "b0", {"usd": 12.0}, version=stale, actor="b")  # type: ignore[arg-type]
        assert info.value.actual == 2
    with pytest.raises(VersionConflictError, match="must name the version"):
        reg.delete("budget", "b0", version=None, actor="b")
    with pytest.raises(VersionConflictError, match="at version 2, the change was based on 1"):
        reg.delete("budget", "b0", version=1, actor="b")
    assert reg.get("budget", "b0").usd == 11.0  # nothing was overwritten


def test_export_as_json_lines_re_verifies_outside(reg: Registry) -> None:
    import hashlib
    import io
    import json

    _seed(reg, 3)
    reg.put_credential("k", "sk-export-Q1w2E3r4T5y6U7i8", actor="a")
    buf = io.StringIO()
    assert reg.export_audit(buf) == 4
    lines = [json.loads(x) for x in buf.getvalue().splitlines()]
    prev = "0" * 64
    for line in lines:  # what a SIEM can check with nothing but hashlib
        assert line["prev_hash"] == prev
        assert hashlib.sha256(f"{prev}\n{line['body']}".encode()).hexdigest() == line["hash"]
        prev = line["hash"]
    assert "sk-export-Q1w2E3r4T5y6U7i8" not in buf.getvalue()
    tail = io.StringIO()
    assert reg.export_audit(tail, after_seq=3) == 1
