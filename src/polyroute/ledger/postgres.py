"""The usage ledger on PostgreSQL (``ledger.url: postgresql://…``), shared by every
worker process and host.

The same promise as the SQLite ledger (``polyroute.ledger.store``): rows are batched
off the request path by a writer thread (one connection per process), committed the
moment they are taken from the queue, and ``sync: true`` commits a call's row before
the call returns. Drops — a full queue, a database that refuses writes, a row it
refuses — are counted, warned about and kept in ``ledger_drops``. The hourly rollups
are kept in the same transaction as the rows; writers serialise on a transaction
advisory lock (``pg_advisory_xact_lock``) while they merge them, so N workers never
lose each other's sums.

The schema comes from the same column lists as SQLite's (``CALL_COLUMNS``,
``ATTEMPT_COLUMNS``), so a column added there is created here too (``ADD COLUMN IF NOT
EXISTS`` on start). NaN is stored as NULL, as SQLite stores it.
"""

from __future__ import annotations

import math
import os
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from polyroute.errors import ConfigError
from polyroute.ledger.feedback import FEEDBACK_SCHEMA_PG
from polyroute.ledger.queued import LINGER, QueuedLedger, take_batch
from polyroute.ledger.queued import Item as _Item
from polyroute.ledger.rollup import ROLLUP_SOURCE_COLUMNS, apply_rows, bucket_of, rollup_schema
from polyroute.ledger.rollup_days import (
    COUNTERS,
    days_current,
    meta_counts,
    prune_rollups,
    rebuild_days,
)
from polyroute.ledger.rows import clean_row
from polyroute.ledger.store import _TYPES, ATTEMPT_COLUMNS, CALL_COLUMNS
from polyroute.logs import get_logger

__all__ = ["PostgresLedger", "connect_pg_ledger", "pg_column_type", "redact_dsn"]

logger = get_logger("ledger")

_LOCK_KEY = 0x706F6C79_6C656467  # "polyledg": one advisory lock for every ledger writer
_INT_COLUMNS = {"attempts", "fallback", "cache_hit", "stream", "price_known", "n", "ok",
                "http_status"}
_WARN_EVERY = 10.0
_DAY = 86400.0

_ROLLUP_COLS = ", ".join(ROLLUP_SOURCE_COLUMNS)
_UPSERT_ROLLUP = (  # {table}: the hour or the day rollups
    "INSERT INTO {table} (bucket, agent, route, provider, model, tenant, ok, hit, data) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT "
    "(bucket, agent, route, provider, model, tenant, ok, hit) DO UPDATE SET data = excluded.data"
)


def pg_column_type(column: str) -> str:
    """The PostgreSQL type of a ledger column, from SQLite's: REAL becomes DOUBLE
    PRECISION, counts BIGINT, the rest (ids, names, JSON, columns added later) TEXT."""
    sqlite = _TYPES.get(column, "")
    if sqlite.startswith("REAL"):
        return "DOUBLE PRECISION" + sqlite[4:]
    if column == "id":
        return "TEXT PRIMARY KEY"
    if column.endswith("_tokens") or column in _INT_COLUMNS:
        return "BIGINT"
    return "TEXT"


def _schema() -> list[str]:
    calls = ", ".join(f"{c} {pg_column_type(c)}" for c in CALL_COLUMNS)
    attempts = ", ".join(f"{c} {pg_column_type(c).replace(' PRIMARY KEY', '')}"
                         for c in ATTEMPT_COLUMNS)
    out = [f"CREATE TABLE IF NOT EXISTS calls ({calls})",
           f"CREATE TABLE IF NOT EXISTS attempts ({attempts})",
           "CREATE INDEX IF NOT EXISTS calls_ts ON calls (ts)",
           "CREATE INDEX IF NOT EXISTS attempts_call ON attempts (call_id)",
           "CREATE TABLE IF NOT EXISTS ledger_drops (ts DOUBLE PRECISION NOT NULL, "
           "rows BIGINT NOT NULL, reason TEXT)"]
    out += [s.strip() for s in rollup_schema("TEXT", "BIGINT").split(";") if s.strip()]
    out += list(FEEDBACK_SCHEMA_PG)
    # Columns added to the lists after the table was made (another release, a plugin).
    out += [f"ALTER TABLE calls ADD COLUMN IF NOT EXISTS {c} "
            f"{pg_column_type(c).replace(' PRIMARY KEY', '')}" for c in CALL_COLUMNS]
    out += [f"ALTER TABLE attempts ADD COLUMN IF NOT EXISTS {c} {pg_column_type(c)}"
            for c in ATTEMPT_COLUMNS if c != "id"]
    return out


def _insert_call() -> str:
    cols = ", ".join(CALL_COLUMNS)
    sets = ", ".join(f"{c} = excluded.{c}" for c in CALL_COLUMNS if c != "id")
    return (f"INSERT INTO calls ({cols}) VALUES ({', '.join(['%s'] * len(CALL_COLUMNS))}) "
            f"ON CONFLICT (id) DO UPDATE SET {sets}")  # INSERT OR REPLACE, as on SQLite


_INSERT_ATTEMPT = (f"INSERT INTO attempts ({', '.join(ATTEMPT_COLUMNS)}) "
                   f"VALUES ({', '.join(['%s'] * len(ATTEMPT_COLUMNS))})")


def connect_pg_ledger(url: str, *, create: bool = True) -> Any:
    """An autocommit connection to the ledger at ``url`` (schema ensured, and the
    rollups rebuilt if they do not sum the rows, when ``create``)."""
    import psycopg

    conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
    if create:
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                for stmt in _schema():
                    conn.execute(stmt)
            ensure_pg_rollups(conn)
        except BaseException:
            conn.close()
            raise
    return conn


def ensure_pg_rollups(conn: Any, *, force: bool = False) -> bool:
    from polyroute.ledger.store import rollups_current

    if not force and rollups_current(conn, "%s"):
        if not days_current(conn, "%s"):
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                if not days_current(cur, "%s"):
                    rebuild_days(cur, "%s", upsert=_UPSERT_ROLLUP,
                                 calls=int(meta_counts(cur, "%s")["rollup_calls"]))
        return False
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        if not force and rollups_current(conn, "%s"):
            return False
        conn.execute("DELETE FROM usage_rollup")
        conn.execute("DELETE FROM usage_rollup_day")
        n = 0
        with conn.cursor(name="polyroute_rollup_backfill") as rows:
            rows.execute(f"SELECT {_ROLLUP_COLS} FROM calls")
            with conn.cursor() as cur:
                while chunk := rows.fetchmany(50_000):
                    apply_rows(cur, "%s", chunk, upsert=_UPSERT_ROLLUP)
                    n += len(chunk)
        for key, value in (("rollup", "complete"), *((k, str(n)) for k in COUNTERS)):
            conn.execute("INSERT INTO ledger_meta (key, value) VALUES (%s, %s) ON CONFLICT "
                         "(key) DO UPDATE SET value = excluded.value", (key, value))
    return True


def redact_dsn(url: str) -> str:
    """``url`` with its password and query (``?password=``, ``sslkey``...) masked."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}:***@{host}" if ":" in user else netloc
    return urlunsplit((parts.scheme, netloc, parts.path, "***" if parts.query else "", ""))


def _no_nan(row: tuple[Any, ...]) -> tuple[Any, ...]:
    if any(isinstance(v, float) and math.isnan(v) for v in row):
        return tuple(None if isinstance(v, float) and math.isnan(v) else v for v in row)
    return row


class PostgresLedger(QueuedLedger):
    """Queue-fed PostgreSQL writer with the interface of ``polyroute.ledger.Ledger``."""

    param = "%s"
    path: str

    def __init__(self, url: str, *, queue_size: int = 10_000,
                 retention_days: float | None = 90.0, sync: bool = False) -> None:
        self.url = url
        self.path = redact_dsn(url)  # what logs and errors name: never the password
        self._init_queue(queue_size=queue_size, retention_days=retention_days, sync=sync)
        self._connect().close()  # a wrong URL fails the router's construction, not a call
        self._opened()

    def _connect(self) -> Any:
        try:
            return connect_pg_ledger(self.url)
        except Exception as exc:
            raise ConfigError(
                f"cannot open the usage ledger {self.path} ({type(exc).__name__})",
                field="ledger.url",
                fix="check the PostgreSQL URL, that the server is up and that the user may "
                    "create tables in its schema",
            ) from None

    # --- request path ------------------------------------------------------------------

    def record(self, call: tuple[Any, ...], attempts: Sequence[tuple[Any, ...]] = ()) -> None:
        if self._closed:
            self._drop(1, "recorded after the ledger was closed")
            return
        item = (_no_nan(call), [_no_nan(a) for a in attempts])
        if self.sync:
            with self._sync_lock:
                try:
                    if self._sync_conn is None or self._pid != os.getpid():
                        self._pid = os.getpid()
                        self._sync_conn = connect_pg_ledger(self.url, create=False)
                    self._write(self._sync_conn, [item])
                except Exception as exc:
                    self._drop(1, f"write failed: {type(exc).__name__}: {exc}")
            return
        if self._thread is None or self._pid != os.getpid():
            self._start()
        try:
            self._queue.put_nowait(item)
        except queue.Full:
            self._drop(1, f"queue full ({self._queue_size} rows waiting for the writer; "
                          "raise ledger.queue_size or check the database)")

    # --- writer thread -----------------------------------------------------------------

    def _start(self) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                self._queue = queue.Queue(self._queue_size)
                self._thread = None
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="polyroute-ledger-pg",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        q = self._queue
        conn: Any = None
        next_prune = 0.0
        try:
            while True:
                try:
                    item = q.get(timeout=60.0)
                except queue.Empty:
                    continue
                if item is not None:
                    time.sleep(LINGER)  # group commit, as the SQLite writer
                rows, stop, taken = take_batch(q, item)
                try:
                    if conn is None or conn.closed:
                        conn = connect_pg_ledger(self.url, create=False)
                    if self.retention_days and time.time() >= next_prune:
                        self._prune(conn)
                        next_prune = time.time() + _DAY
                    if rows or self._unreported:
                        self._write(conn, rows)
                except Exception as exc:
                    self._drop(len(rows), f"write failed: {type(exc).__name__}: {exc}")
                    if conn is not None:
                        with suppress(Exception):
                            conn.close()
                    conn = None
                finally:
                    # let go of the batch before saying it is done (and before waiting
                    # for the next one): once flush() returns, the writer holds none
                    # of the rows (an idle writer kept up to 1,000, content included)
                    rows, item = [], None
                    for _ in range(taken):
                        q.task_done()
                if stop:
                    return
        finally:
            if conn is not None:
                with suppress(Exception):
                    conn.close()

    def _write(self, conn: Any, rows: list[_Item]) -> None:
        import psycopg

        try:
            self._commit(conn, rows)
        except psycopg.OperationalError:
            raise  # the connection or the server: every row would meet it
        except psycopg.Error:
            for i, item in enumerate(rows):
                try:
                    self._write_alone(conn, item)
                except psycopg.OperationalError as exc:
                    self._drop(len(rows) - i, f"write failed: {type(exc).__name__}: {exc}")
                    return
        else:
            self.written += len(rows)

    def _write_alone(self, conn: Any, item: _Item) -> None:
        import psycopg

        try:
            self._commit(conn, [item])
            self.written += 1
            return
        except psycopg.OperationalError:
            raise
        except psycopg.Error:
            pass
        call, bad = clean_row(item[0], CALL_COLUMNS)
        attempts = [clean_row(a, ATTEMPT_COLUMNS)[0] for a in item[1]]
        try:
            self._commit(conn, [(call, attempts)])
        except psycopg.OperationalError:
            raise
        except psycopg.Error as exc:
            self._drop(1, f"a row PostgreSQL refused: {type(exc).__name__}")
            return
        self.written += 1
        self.nulled += 1
        logger.warning("usage ledger row %s: values PostgreSQL cannot store were written as "
                       "NULL: %s", str(call[0])[:24], ", ".join(bad) or "none found")

    def _commit(self, conn: Any, rows: list[_Item]) -> None:
        calls = [r[0] for r in rows]
        attempts = [a for r in rows for a in r[1]]
        with conn.transaction(), conn.cursor() as cur:
            if calls:
                ids = list({c[0] for c in calls})
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                cur.execute(f"SELECT {_ROLLUP_COLS} FROM calls WHERE id = ANY(%s)", (ids,))
                replaced = cur.fetchall()
                cur.executemany(_insert_call(), calls)
                cur.execute(f"SELECT {_ROLLUP_COLS} FROM calls WHERE id = ANY(%s)", (ids,))
                added = cur.fetchall()
                apply_rows(cur, "%s", added, replaced, upsert=_UPSERT_ROLLUP)
                _count(cur, len(added) - len(replaced))
            if attempts:
                cur.executemany(_INSERT_ATTEMPT, attempts)
            self._report_drops(cur)

    def _prune(self, conn: Any) -> None:
        assert self.retention_days is not None
        cutoff = bucket_of(time.time() - self.retention_days * _DAY)
        try:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                prune_rollups(cur, "%s", cutoff, upsert=_UPSERT_ROLLUP)
                cur.execute("DELETE FROM attempts WHERE call_id IN "
                            "(SELECT id FROM calls WHERE ts < %s)", (float(cutoff),))
                cur.execute("DELETE FROM calls WHERE ts < %s", (float(cutoff),))
                _count(cur, -cur.rowcount)
        except Exception as exc:
            logger.warning("usage ledger retention failed: %s", type(exc).__name__)

    # --- lifecycle ---------------------------------------------------------------------

    @contextmanager
    def connection(self) -> Iterator[Any]:
        self.flush()
        conn = connect_pg_ledger(self.url, create=False)
        try:
            yield conn
        finally:
            conn.close()


def _count(cur: Any, delta: int) -> None:
    if delta:
        cur.execute("UPDATE ledger_meta SET value = (CAST(value AS BIGINT) + %s)::text "
                    "WHERE key IN (%s, %s)", (delta, *COUNTERS))

