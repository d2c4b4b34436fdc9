"""The usage ledger: a SQLite (WAL) row per call and per attempt, written off the
request path. See ``polyroute.ledger.store``."""

from polyroute.ledger.store import ATTEMPT_COLUMNS, CALL_COLUMNS, Ledger, connect_ledger

__all__ = ["ATTEMPT_COLUMNS", "CALL_COLUMNS", "Ledger", "connect_ledger"]
