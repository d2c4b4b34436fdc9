"""Row values SQLite can store, and the drops table that records rows it could not.

A ledger row comes from provider responses and router bookkeeping, so one odd
value (a token count past 2**63, a NaN latency, a stray object) must not cost
the rows written with it: the writer retries a failing batch row by row, and a
row that still fails is stored with the offending values nulled (``clean_row``)
or, failing that, dropped and counted in ``ledger_drops``.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from typing import Any

__all__ = ["DROPS_SCHEMA", "Drop", "clean_row", "read_drops"]

_INT64 = (-(2**63), 2**63 - 1)

DROPS_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger_drops (ts REAL NOT NULL, rows INTEGER NOT NULL, reason TEXT);
"""


def _clean(value: Any) -> tuple[Any, bool]:
    """``(value SQLite stores faithfully or None, changed)``."""
    if value is None or isinstance(value, bytes):
        return value, False
    if isinstance(value, bool):
        return int(value), False
    if isinstance(value, int):
        return (value, False) if _INT64[0] <= value <= _INT64[1] else (None, True)
    if isinstance(value, float):
        return (value, False) if math.isfinite(value) else (None, True)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "replace").decode("utf-8"), True
        return value, False
    return None, True


def clean_row(row: Sequence[Any], columns: Sequence[str]) -> tuple[tuple[Any, ...], list[str]]:
    """``row`` with values SQLite would refuse or mangle set to ``None``, and their columns."""
    out: list[Any] = []
    bad: list[str] = []
    for i, value in enumerate(row):
        cleaned, changed = _clean(value)
        out.append(cleaned)
        if changed:
            bad.append(columns[i] if i < len(columns) else f"#{i}")
    return tuple(out), bad


class Drop(tuple[str, int, float]):
    """``(reason, rows, last_ts)`` from ``ledger_drops``."""

    __slots__ = ()

    @property
    def reason(self) -> str:
        return self[0]

    @property
    def rows(self) -> int:
        return self[1]

    @property
    def last(self) -> float:
        return self[2]


def read_drops(conn: sqlite3.Connection, since: float | None = None) -> list[Drop]:
    """Rows lost per reason since ``since`` (none if the table does not exist yet)."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type='table' AND name='ledger_drops'").fetchone()
    if not exists:
        return []
    got = conn.execute(
        "SELECT reason, SUM(rows), MAX(ts) FROM ledger_drops WHERE ts >= ? "
        "GROUP BY reason ORDER BY SUM(rows) DESC", (since or 0.0,)).fetchall()
    return [Drop((str(r), int(n), float(t))) for r, n, t in got]
