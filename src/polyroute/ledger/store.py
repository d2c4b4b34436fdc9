"""The usage ledger: one SQLite (WAL) row per call and one per attempt, failures included.

Rows are written off the request path by default. A call only puts a tuple on
a bounded queue; a daemon writer thread takes whatever is queued, inserts it in
one transaction and commits at once — so a row is on disk a few milliseconds
after its call ends, and a process killed between calls loses nothing. What a
``kill -9`` can lose is what was still queued: the rows of calls that returned
while the writer was committing (never more than ``queue_size`` + one batch of
1,000). With ``sync=True`` the calling thread commits its row before the call
returns, so a returned call's row survives a kill of the process.

No row is lost silently. A full queue, a file that stopped taking writes and a
row SQLite refuses all count in ``dropped``, log a warning and leave a line in
the ``ledger_drops`` table (once the file takes writes again), which ``polyroute
usage`` reports. A refused row fails alone: its batch is retried row by row,
and a value SQLite cannot hold (an integer past 2**63, NaN) is stored as NULL.
``flush()`` waits for the queue to drain; it runs at ``close()`` and at
interpreter exit.

Only metadata is stored by default; prompts and answers only with
``store_content``. Rows older than ``retention_days`` are deleted when the
writer starts and once a day after.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import Any

from polyroute._sqlite import is_lock_contention, retry_locked
from polyroute.errors import ConfigError
from polyroute.ledger.feedback import FEEDBACK_SCHEMA
from polyroute.ledger.queued import LINGER, QueuedLedger, take_batch
from polyroute.ledger.queued import Item as _Item
from polyroute.ledger.rollup import (
    ROLLUP_SOURCE_COLUMNS,
    apply_rows,
    bucket_of,
    rollup_schema,
)
from polyroute.ledger.rollup_days import (
    COUNTERS,
    days_current,
    meta_counts,
    prune_rollups,
    rebuild_days,
)
from polyroute.ledger.rows import DROPS_SCHEMA, clean_row
from polyroute.logs import get_logger

__all__ = ["ATTEMPT_COLUMNS", "CALL_COLUMNS", "Ledger", "connect_ledger", "ensure_rollups",
           "rollups_current"]

logger = get_logger("ledger")

CALL_COLUMNS: tuple[str, ...] = (
    "id", "ts", "agent", "task", "route", "provider", "model",
    "input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens", "reasoning_tokens",
    "cost_usd", "cost_saved_usd", "price_known", "latency_ms", "ttft_ms", "status", "error",
    "attempts", "fallback", "cache_hit", "stream", "tags", "tenant", "prompt", "answer",
    "experiment", "variant",  # added later: _upgrade adds them to older files
    "redactions",  # privacy: JSON counts by kind of what was masked (docs/privacy.md)
)
OPTIONAL_TAIL: tuple[str, ...] = ("experiment", "variant", "redactions")
"""Trailing call columns a writer may leave out (NULL): rows built by code that
predates them still insert."""
_REQUIRED = len(CALL_COLUMNS) - len(OPTIONAL_TAIL)
ATTEMPT_COLUMNS: tuple[str, ...] = (
    "call_id", "n", "ts", "provider", "model", "ok", "latency_ms", "error", "http_status",
    "action", "input_tokens", "output_tokens", "cached_tokens", "cache_write_tokens",
    "reasoning_tokens", "cost_usd",
)
_TYPES = {
    "ts": "REAL NOT NULL", "cost_usd": "REAL", "cost_saved_usd": "REAL", "latency_ms": "REAL",
    "ttft_ms": "REAL", "id": "TEXT PRIMARY KEY",
}
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS calls ({", ".join(f"{c} {_TYPES.get(c, '')}" for c in CALL_COLUMNS)});
CREATE TABLE IF NOT EXISTS attempts (
    {", ".join(f"{c} {_TYPES.get(c, '') if c != 'id' else ''}" for c in ATTEMPT_COLUMNS)});
CREATE INDEX IF NOT EXISTS calls_ts ON calls (ts);
CREATE INDEX IF NOT EXISTS attempts_call ON attempts (call_id);
""" + DROPS_SCHEMA + rollup_schema() + FEEDBACK_SCHEMA
_ROLLUP_COLS = ", ".join(ROLLUP_SOURCE_COLUMNS)
_ID_CHUNK = 500  # ids per IN (...) list, under every SQLite's bound-parameter limit
_INSERT_CALL = (
    f"INSERT OR REPLACE INTO calls ({', '.join(CALL_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(CALL_COLUMNS))})"
)
_INSERT_ATTEMPT = (
    f"INSERT INTO attempts ({', '.join(ATTEMPT_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(ATTEMPT_COLUMNS))})"
)
_DAY = 86400.0
_WARN_EVERY = 10.0  # seconds between two warnings about the same kind of drop


def connect_ledger(path: str | os.PathLike[str], *, create: bool = True) -> sqlite3.Connection:
    """A connection to the ledger at ``path`` (WAL, schema ensured)."""
    p = Path(path)
    if create:
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    elif not p.exists():
        raise FileNotFoundError(str(p))
    conn = sqlite3.connect(str(p), timeout=30.0, isolation_level=None, check_same_thread=False)
    try:
        def setup() -> None:
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            if create:
                conn.executescript(_SCHEMA)
                _upgrade(conn)
                ensure_rollups(conn)

        retry_locked(setup, 30.0)
    except BaseException:
        conn.close()
        raise
    return conn


def ensure_rollups(conn: sqlite3.Connection, *, force: bool = False) -> bool:
    """Rebuild ``usage_rollup`` from every row of ``calls`` unless it already sums
    exactly those rows (a ledger written before rollups existed, or rows added or
    deleted behind the writer's back). Runs under the write lock, so two processes
    opening one old ledger rebuild it once. ``True`` if it rebuilt."""
    if not force and rollups_current(conn):
        if not days_current(conn):
            _ensure_days(conn)
        return False
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not force and rollups_current(conn):
            conn.execute("ROLLBACK")
            return False
        conn.execute("DELETE FROM usage_rollup")
        conn.execute("DELETE FROM usage_rollup_day")
        rows = conn.execute(f"SELECT {_ROLLUP_COLS} FROM calls")
        n = 0
        while chunk := rows.fetchmany(50_000):
            apply_rows(conn, "?", chunk)
            n += len(chunk)
        conn.executemany("INSERT OR REPLACE INTO ledger_meta (key, value) VALUES (?, ?)",
                         [("rollup", "complete"), *((k, str(n)) for k in COUNTERS)])
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return True


def _ensure_days(conn: sqlite3.Connection) -> None:
    """Sum the day rollups from the hourly ones (a ledger from before the day table,
    or one an earlier release's writer added rows to)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if rollups_current(conn) and not days_current(conn):
            rebuild_days(conn, "?", calls=int(meta_counts(conn, "?")["rollup_calls"]))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def rollups_current(conn: Any, ph: str = "?") -> bool:
    """Whether ``usage_rollup`` sums exactly the rows in ``calls``: marked complete,
    and the count of rows it was kept for is the count of rows there."""
    try:
        meta = dict(conn.execute(f"SELECT key, value FROM ledger_meta WHERE key IN "
                                 f"({ph}, {ph})", ("rollup", "rollup_calls")).fetchall())
    except Exception:  # a ledger from before rollups: no table
        return False
    if meta.get("rollup") != "complete":
        return False
    have = conn.execute("SELECT COUNT(*) FROM calls").fetchone()[0]
    return str(have) == meta.get("rollup_calls")


def _count_rollup(conn: sqlite3.Connection, delta: int) -> None:
    if delta:
        conn.execute("UPDATE ledger_meta SET value = CAST(CAST(value AS INTEGER) + ? AS TEXT) "
                     "WHERE key IN (?, ?)", (delta, *COUNTERS))


def _rows_by_id(conn: sqlite3.Connection, ids: list[Any]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for i in range(0, len(ids), _ID_CHUNK):
        chunk = ids[i:i + _ID_CHUNK]
        out += conn.execute(f"SELECT {_ROLLUP_COLS} FROM calls WHERE id IN "
                            f"({', '.join('?' * len(chunk))})", chunk).fetchall()
    return out
def _upgrade(conn: sqlite3.Connection) -> None:
    """Add the columns a file made by an older polyroute lacks (SQLite adds a column
    in place; old rows read NULL there). Two processes may race: the loser's
    "duplicate column" is the winner's work, not an error."""
    have = {r[1] for r in conn.execute("PRAGMA table_info(calls)")}
    for col in CALL_COLUMNS:
        if col not in have:
            try:
                conn.execute(f"ALTER TABLE calls ADD COLUMN {col} {_TYPES.get(col, '')}")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc).lower():
                    raise
    conn.execute("CREATE INDEX IF NOT EXISTS calls_experiment ON calls (experiment, variant)")


class Ledger(QueuedLedger):
    """Queue-fed SQLite writer. ``record(call_row, attempt_rows)`` never touches disk,
    unless ``sync``: then it commits the row before returning."""

    path: Path

    def __init__(self, path: str | os.PathLike[str], *, queue_size: int = 10_000,
                 retention_days: float | None = 90.0, sync: bool = False) -> None:
        self.path = Path(path)
        self._init_queue(queue_size=queue_size, retention_days=retention_days, sync=sync)
        # Open and try a write now, so an unusable or read-only path fails the router's
        # construction with a ConfigError rather than losing the rows of paid calls.
        conn = self._connect()
        try:
            self._probe(conn)
        finally:
            conn.close()
        self._opened()

    def _connect(self) -> sqlite3.Connection:
        try:
            return connect_ledger(self.path)
        except (sqlite3.Error, OSError) as exc:
            raise ConfigError(
                f"cannot open the usage ledger {self.path} ({type(exc).__name__}: {exc})",
                field="ledger.path",
                fix="point ledger.path at a writable file on a local disk",
            ) from exc

    def _probe(self, conn: sqlite3.Connection) -> None:
        # A write that is rolled back. Another process holding the write lock proves
        # the file takes writes: no need to wait for it here.
        conn.execute("PRAGMA busy_timeout=0")
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.execute("INSERT INTO ledger_drops (ts, rows, reason) VALUES (0, 0, NULL)")
            finally:
                conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            if is_lock_contention(exc):
                return
            raise ConfigError(
                f"the usage ledger {self.path} does not take writes ({exc}): every call's "
                "row would be lost",
                field="ledger.path",
                fix="make the file and its folder writable by this user, or point "
                    "ledger.path elsewhere",
            ) from exc

    # --- drops -------------------------------------------------------------------

    # --- request path ------------------------------------------------------------

    def record(self, call: tuple[Any, ...], attempts: Sequence[tuple[Any, ...]] = ()) -> None:
        if _REQUIRED <= len(call) < len(CALL_COLUMNS):
            call = (*call, *(None,) * (len(CALL_COLUMNS) - len(call)))
        if self._closed:
            self._drop(1, "recorded after the ledger was closed")
            return
        if self.sync:
            self._record_now((call, attempts))
            return
        if self._thread is None or self._pid != os.getpid():
            self._start()
        try:
            self._queue.put_nowait((call, attempts))
        except queue.Full:
            self._drop(1, f"queue full ({self._queue_size} rows waiting for the writer; "
                          "raise ledger.queue_size or check the disk)")

    def _record_now(self, item: _Item) -> None:
        """``sync``: commit on the calling thread; a failure is a counted drop, never an
        exception (the call it describes has been answered and paid for)."""
        with self._sync_lock:
            try:
                if self._sync_conn is None or self._pid != os.getpid():
                    self._pid = os.getpid()
                    self._sync_conn = connect_ledger(self.path)
                    self._fold_old_rows(self._sync_conn)
                self._write(self._sync_conn, [item])
            except Exception as exc:
                self._drop(1, f"write failed: {type(exc).__name__}: {exc}")

    # --- writer thread -----------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's thread is not ours
                self._pid = os.getpid()
                self._queue = queue.Queue(self._queue_size)
                self._thread = None
            if self._thread is None and not self._closed:
                conn = self._connect()
                self._thread = threading.Thread(
                    target=self._run, args=(conn,), name="polyroute-ledger", daemon=True
                )
                self._thread.start()

    def _run(self, conn: sqlite3.Connection) -> None:
        q = self._queue
        next_prune = 0.0
        with closing(conn):
            self._fold_old_rows(conn)
            while True:
                if self.retention_days and time.time() >= next_prune:
                    self._prune(conn)
                    next_prune = time.time() + _DAY
                try:
                    item = q.get(timeout=60.0)
                except queue.Empty:
                    continue
                if item is not None:
                    # group commit: rows of calls ending within LINGER share one
                    # transaction (one commit per row cost ~70 us of CPU per call)
                    time.sleep(LINGER)
                rows, stop, taken = take_batch(q, item)
                try:
                    if rows or self._unreported:
                        self._write(conn, rows)
                except Exception as exc:
                    self._drop(len(rows), f"write failed: {type(exc).__name__}: {exc}")
                finally:
                    # let go of the batch before saying it is done (and before waiting
                    # for the next one): once flush() returns, the writer holds none
                    # of the rows (an idle writer kept up to 1,000, content included)
                    rows, item = [], None
                    for _ in range(taken):
                        q.task_done()
                if stop:
                    return

    def _fold_old_rows(self, conn: sqlite3.Connection) -> None:
        """A ledger from before rollups: fold its rows once (usage views read the raw
        rows until then). A failure is logged; the rollup is rebuilt on the next start."""
        try:
            folded = retry_locked(lambda: ensure_rollups(conn), 30.0)
        except sqlite3.Error as exc:
            logger.warning("usage ledger %s: could not build its rollups: %s", self.path, exc)
            return
        if folded:
            logger.info("usage ledger %s: hourly rollups rebuilt from its rows", self.path)

    def _write(self, conn: sqlite3.Connection, rows: list[_Item]) -> None:
        """Commit ``rows`` in one transaction; if SQLite refuses one of them, row by
        row, so only that row is affected. Raises when the file takes no write."""
        try:
            retry_locked(lambda: self._commit(conn, rows), 30.0)
        except Exception as exc:  # OverflowError, IntegrityError, a wrong binding: a row
            if _file_fault(exc):
                raise
            self._one_by_one(conn, rows)
        else:
            self.written += len(rows)

    def _one_by_one(self, conn: sqlite3.Connection, rows: list[_Item]) -> None:
        for i, item in enumerate(rows):
            try:
                self._write_alone(conn, item)
            except sqlite3.Error as exc:
                self._drop(len(rows) - i, f"write failed: {type(exc).__name__}: {exc}")
                return
        if self._unreported:  # record the refused rows' drop now, not with the next call
            with suppress(sqlite3.Error):
                retry_locked(lambda: self._commit(conn, []), 30.0)

    def _write_alone(self, conn: sqlite3.Connection, item: _Item) -> None:
        """One row; if refused, again with the values SQLite cannot hold as NULL;
        if still refused, dropped and counted. Raises only for a file-level error."""
        try:
            retry_locked(lambda: self._commit(conn, [item]), 30.0)
        except Exception as exc:
            if _file_fault(exc):
                raise
        else:
            self.written += 1
            return
        call, bad = clean_row(item[0], CALL_COLUMNS)
        attempts = []
        for row in item[1]:
            cleaned, bad_a = clean_row(row, ATTEMPT_COLUMNS)
            attempts.append(cleaned)
            bad += [f"attempts.{c}" for c in bad_a]
        ident = str(call[0])[:24] if call else "?"
        if len(call) > 1 and call[1] is None:  # ts is NOT NULL: a NaN time becomes now
            call = (call[0], time.time(), *call[2:])
        try:
            retry_locked(lambda: self._commit(conn, [(call, attempts)]), 30.0)
        except Exception as exc:
            if _file_fault(exc):
                raise
            self._drop(1, f"a row SQLite refused: {type(exc).__name__}: {exc}")
            return
        self.written += 1
        self.nulled += 1
        logger.warning("usage ledger row %s: values SQLite cannot store were written as NULL: "
                       "%s", ident, ", ".join(bad) or "none found")

    def _commit(self, conn: sqlite3.Connection, rows: list[_Item]) -> None:
        calls = [r[0] for r in rows]
        attempts = [a for r in rows for a in r[1]]
        # IMMEDIATE takes the write lock up front (waiting on the busy handler)
        # instead of failing when a deferred read upgrades under contention.
        conn.execute("BEGIN IMMEDIATE")
        try:
            if calls:
                # The rollups change in this transaction too: what the rows replace
                # comes out, what the database stored goes in (read back, so a NaN
                # stored as NULL counts the way a scan of the rows counts it).
                ids = list({c[0] for c in calls})
                replaced = _rows_by_id(conn, ids)
                conn.executemany(_INSERT_CALL, calls)
                added = _rows_by_id(conn, ids)
                apply_rows(conn, "?", added, replaced)
                _count_rollup(conn, len(added) - len(replaced))
            if attempts:
                conn.executemany(_INSERT_ATTEMPT, attempts)
            self._report_drops(conn)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _prune(self, conn: sqlite3.Connection) -> None:
        assert self.retention_days is not None
        # Whole hours only, so the rollups and the rows they sum leave together.
        cutoff = float(bucket_of(time.time() - self.retention_days * _DAY))
        try:
            conn.execute("BEGIN IMMEDIATE")
            prune_rollups(conn, "?", int(cutoff))
            conn.execute(
                "DELETE FROM attempts WHERE call_id IN (SELECT id FROM calls WHERE ts < ?)",
                (cutoff,),
            )
            gone = conn.execute("DELETE FROM calls WHERE ts < ?", (cutoff,)).rowcount
            _count_rollup(conn, -gone)
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK") if conn.in_transaction else None
            logger.warning("usage ledger retention failed: %s", exc)

    # --- lifecycle -----------------------------------------------------------------

    @contextmanager
    def connection(self) -> Iterator[sqlite3.Connection]:
        """A reading connection (after a ``flush``), for analytics."""
        self.flush()
        with closing(connect_ledger(self.path)) as conn:
            yield conn


def _file_fault(exc: BaseException) -> bool:
    """An error about the file — locked past the deadline, read-only, full, corrupt —
    that every row would meet, not one row's values."""
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc).lower()  # "string or blob too big" is one row's doing
        return not ("too big" in text or "too large" in text or "overflow" in text)
    return type(exc) is sqlite3.DatabaseError

