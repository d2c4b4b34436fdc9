"""Two processes writing at once leave one unforked chain and lose nothing."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import func, select

from polyroute.admin.models import AuditRow, Budget, TierMember
from tests.admin.conftest import KEY, Db

WORKER = """
import sys
from polyroute.admin import KeyRing, Registry
url, who, n, job = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
reg = Registry(url)
reg.keyring = KeyRing([sys.argv[5]])
for i in range(n):
    if job == "budgets":
        reg.create("budget", {"name": f"{who}-{i}", "usd": 1.0 + i}, actor=who)
    else:
        reg.add_tier_member("r", 0, f"{who}:m{i}", actor=who)
reg.close()
"""


def _run_two(db: Db, n: int, job: str) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, db.url, who, str(n), job, KEY],
                              stderr=subprocess.PIPE, text=True) for who in ("p1", "p2")]
    for p in procs:
        _, err = p.communicate(timeout=240)
        assert p.returncode == 0, err


def test_200_mutations_from_2_processes_make_one_valid_chain(db: Db) -> None:
    _run_two(db, 100, "budgets")
    reg = db.registry()
    report = reg.verify_chain()
    assert report.ok and report.rows == 200, str(report)
    with reg.reading() as s:
        assert s.execute(select(func.count()).select_from(Budget)).scalar_one() == 200
        seqs = s.execute(select(AuditRow.seq).order_by(AuditRow.seq)).scalars().all()
        actors = set(s.execute(select(AuditRow.actor)).scalars())
    assert seqs == list(range(1, 201)) and actors == {"p1", "p2"}
    reg.close()


def test_50_concurrent_member_additions_keep_all_50(db: Db) -> None:
    reg = db.registry()
    reg.create("route", {"name": "r", "tiers": [["base:m"]]}, actor="a")
    _run_two(db, 25, "members")
    with reg.reading() as s:
        refs = s.execute(select(TierMember.model_ref)).scalars().all()
    assert len(refs) == 51 and len(set(refs)) == 51
    assert reg.get("route", "r").version == 51  # each addition moved the route on once
    assert reg.verify_chain().ok
    reg.close()


KILLED = """
import os, signal, sys
from polyroute.admin import Registry
from polyroute.admin.audit import record
from polyroute.admin.models import Budget
reg = Registry(sys.argv[1])
with reg.writing() as (session, head):
    session.add(Budget(name="half", usd=1.0))
    session.flush()
    record(session, head, actor="doomed", action="create", target_type="budget",
           target_key="half", before=None, after={"name": "half"})
    session.flush()
    print("flushed", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # dies holding the lock, before the commit
"""


def test_a_writer_killed_mid_transaction_leaves_nothing_and_no_lock(db: Db) -> None:
    reg = db.registry()
    reg.create("budget", {"name": "before", "usd": 1.0}, actor="a")
    out = subprocess.run([sys.executable, "-c", KILLED, db.url], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == -9 and "flushed" in out.stdout, out.stderr
    reg.create("budget", {"name": "after", "usd": 2.0}, actor="a")  # the lock is free
    assert {b.name for b in reg.list("budget")} == {"before", "after"}
    report = reg.verify_chain()
    assert report.ok and report.rows == 2, str(report)
    reg.close()
