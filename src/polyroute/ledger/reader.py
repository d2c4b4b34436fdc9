"""Open a ledger for reading, wherever it is: a SQLite file or a PostgreSQL URL.

``polyroute usage``, the admin API's usage summary and ``usage_stats`` take either;
the SQL they run is the subset both share, with the driver's placeholder (``ph``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from polyroute.ledger.rows import Drop

__all__ = ["is_postgres", "open_reader", "open_writer", "read_drops_at"]


def is_postgres(target: str) -> bool:
    return target.startswith(("postgresql://", "postgres://", "postgresql+psycopg://"))


@contextmanager
def open_reader(target: str) -> Iterator[tuple[Any, str]]:
    """``(connection, placeholder)`` for the ledger at ``target``; ``FileNotFoundError``
    for a SQLite file that does not exist yet."""
    if is_postgres(target):
        from polyroute.ledger.postgres import connect_pg_ledger

        conn = connect_pg_ledger(target.replace("postgresql+psycopg://", "postgresql://", 1),
                                 create=False)
        ph = "%s"
    else:
        from polyroute.ledger.store import connect_ledger

        conn = connect_ledger(target, create=False)
        # One read snapshot for the whole report: the rollups' row count, the rollups
        # and the raw edges all see the same commits (WAL readers never block writers).
        conn.execute("BEGIN")
        ph = "?"
    try:
        yield conn, ph
    finally:
        conn.close()


@contextmanager
def open_writer(target: str) -> Iterator[tuple[Any, str]]:
    """``(connection, placeholder)`` for small writes outside the call path (feedback):
    autocommit on both databases; the schema is ensured as a writer would."""
    if is_postgres(target):
        from polyroute.ledger.postgres import connect_pg_ledger

        conn = connect_pg_ledger(target.replace("postgresql+psycopg://", "postgresql://", 1))
        ph = "%s"
    else:
        from polyroute.ledger.store import connect_ledger

        conn = connect_ledger(target)
        ph = "?"
    try:
        yield conn, ph
    finally:
        conn.close()


def read_drops_at(target: str, since: float | None = None) -> list[Drop]:
    """Rows lost per reason since ``since``, from either kind of ledger."""
    from polyroute.ledger.rows import read_drops

    with open_reader(target) as (conn, ph):
        if ph == "?":
            return read_drops(conn, since)
        exists = conn.execute("SELECT to_regclass('ledger_drops')").fetchone()[0]
        if exists is None:
            return []
        got = conn.execute(
            "SELECT reason, SUM(rows), MAX(ts) FROM ledger_drops WHERE ts >= %s "
            "GROUP BY reason ORDER BY SUM(rows) DESC", (since or 0.0,)).fetchall()
        return [Drop((str(r), int(n), float(t))) for r, n, t in got]
