"""Retention: delete usage-ledger rows and cached answers older than their limit.

- ledger calls and attempts (metadata; prompts and answers with ``store_content``):
  ``ledger.retention_days`` (default 90); purged when the writer starts, daily after,
  and by ``polyroute purge`` (which also drops old ``ledger_drops`` notes);
- cached answers: ``cache.retention_days`` (default off: TTL and eviction only);
  purged when a router opens the cache and by ``polyroute purge``.

``purge`` is what the command runs; ``purge_cache_on_open`` what the router runs.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from polyroute.errors import ConfigError

if TYPE_CHECKING:
    from polyroute.cache.store import ResponseCache
    from polyroute.config.schema import PolyrouteConfig

__all__ = ["PurgeReport", "purge", "purge_cache_on_open", "purge_ledger"]

_DAY = 86400.0


@dataclass(frozen=True, slots=True)
class PurgeReport:
    ledger_calls: int = 0
    ledger_attempts: int = 0
    cache_entries: int = 0
    ledger_cutoff: float | None = None
    cache_cutoff: float | None = None


def _days(value: float | None, where: str) -> float | None:
    if value is None:
        return None
    if not value > 0 or value != value or value == float("inf"):
        raise ConfigError(f"retention of {value!r} days is not a positive number",
                          field=where, fix="give a number of days such as 30 (or omit it)")
    return float(value)


def purge_ledger(path: str | Path, cutoff: float, *, dry_run: bool = False) -> tuple[int, int]:
    """Delete ledger rows with ``ts < cutoff``: ``(calls, attempts)`` deleted (or that
    would be, ``dry_run``). A missing file is no rows."""
    from polyroute.ledger.rollup import BUCKET_SECONDS as HOUR
    from polyroute.ledger.rollup_days import COUNTERS, prune_rollups
    from polyroute.ledger.store import connect_ledger

    p = Path(path)
    if not p.exists():
        return 0, 0
    # on an hour boundary, as the writer prunes: the hourly rollups deleted are exactly
    # the hours whose calls are deleted, so usage views stay consistent
    hour = int(cutoff // HOUR)
    cutoff = hour * HOUR
    with closing(connect_ledger(p)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            attempts = conn.execute(
                "SELECT COUNT(*) FROM attempts WHERE call_id IN "
                "(SELECT id FROM calls WHERE ts < ?)", (cutoff,)).fetchone()[0]
            calls = conn.execute("SELECT COUNT(*) FROM calls WHERE ts < ?",
                                 (cutoff,)).fetchone()[0]
            if not dry_run:
                conn.execute("DELETE FROM attempts WHERE call_id IN "
                             "(SELECT id FROM calls WHERE ts < ?)", (cutoff,))
                conn.execute("DELETE FROM calls WHERE ts < ?", (cutoff,))
                conn.execute("DELETE FROM ledger_drops WHERE ts < ? AND ts > 0", (cutoff,))
                # the rollups of the deleted hours (and days) go too, and their row count
                # with them, so the rollups still sum exactly the rows left
                prune_rollups(conn, "?", int(cutoff))
                conn.execute("UPDATE ledger_meta SET value = CAST(CAST(value AS INTEGER) - ? "
                             "AS TEXT) WHERE key IN (?, ?)", (int(calls), *COUNTERS))
            conn.execute("ROLLBACK" if dry_run else "COMMIT")
        except sqlite3.Error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return int(calls), int(attempts)


def purge(config: PolyrouteConfig, *, older_than_days: float | None = None,
          now: float | None = None, dry_run: bool = False) -> PurgeReport:
    """Apply retention to the ledger and the cache ``config`` names. ``older_than_days``
    overrides both limits (``polyroute purge --older-than``)."""
    from polyroute.config.cost import resolve_path

    now = time.time() if now is None else now
    override = _days(older_than_days, "--older-than")
    calls = attempts = entries = 0
    ledger_cutoff = cache_cutoff = None
    if config.ledger is not None:
        days = override or _days(config.ledger.retention_days, "ledger.retention_days")
        if days is not None:
            ledger_cutoff = now - days * _DAY
            calls, attempts = purge_ledger(resolve_path(config.ledger.path, config.source),
                                           ledger_cutoff, dry_run=dry_run)
    if config.cache is not None:
        days = override or _days(config.cache.retention_days, "cache.retention_days")
        directory = Path(resolve_path(config.cache.directory, config.source))
        if days is not None and directory.exists():
            from polyroute.cache.store import ResponseCache

            cache_cutoff = now - days * _DAY
            store = ResponseCache(directory, size_limit_mb=config.cache.size_limit_mb)
            try:
                entries = (_count_before(store, cache_cutoff) if dry_run
                           else store.purge_stored_before(cache_cutoff))
            finally:
                store.close()
    return PurgeReport(calls, attempts, entries, ledger_cutoff, cache_cutoff)


def _count_before(store: ResponseCache, cutoff: float) -> int:
    row = store._cache._sql("SELECT COUNT(*) FROM Cache WHERE store_time < ?",
                            (cutoff,)).fetchone()
    return int(row[0])


def purge_cache_on_open(store: ResponseCache, retention_days: float | None,
                        now: float | None = None) -> int:
    """What a router does when it opens the cache: drop entries past retention."""
    if retention_days is None:
        return 0
    now = time.time() if now is None else now
    return store.purge_stored_before(now - retention_days * _DAY)
