"""Router.achat at concurrency 64 with each usage ledger: SQLite vs PostgreSQL.

Issue 14 asks for "the Redis-state and PostgreSQL-ledger rows"; this is the second.
Every feature is on (bench/polyroute_features.py), state in memory; only the ledger
changes: ``ledger.path`` (SQLite, a scratch file) or ``ledger.url`` (PostgreSQL).
Each ledger runs in a fresh worker process against the same fake server, in
interleaved rounds; the median per ledger is kept.

    bench/.venv/bin/python bench/ledger_backends.py           # alone
    make bench                                                # a row of bench/run.py

PostgreSQL: POLYROUTE_BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/test);
the ledger's tables go to a schema of the run's own, dropped after. No server (or no
psycopg) is reported as not present, never guessed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import backend_runs  # noqa: E402
from backend_runs import run_worker  # noqa: E402

LEDGERS = ("sqlite", "postgres")
PG_ENV = "POLYROUTE_BENCH_PG_URL"
X = "\N{MULTIPLICATION SIGN}"


def _pg_url() -> str:
    return os.environ.get(PG_ENV, "postgresql://postgres@127.0.0.1:5432/test")


async def _worker(a: argparse.Namespace) -> dict[str, Any]:
    sys.path.insert(0, str(HERE))
    import clients
    from polyroute_features import features_config

    from polyroute.config.cost import LedgerConfig
    from polyroute.router import Router

    ctx = clients.Ctx(base_url=a.base_url, fail_url=a.fail_url)
    cfg, on = features_config(ctx)
    if not on.get("ledger"):
        raise AssertionError("the features config has no ledger: nothing to compare")
    if a.ledger == "postgres":
        ledger = LedgerConfig.model_validate({"url": a.pg_url})
    else:
        ledger = LedgerConfig(path=str(Path(ctx.tmp) / "ledger.db"))
    router = Router(cfg.model_copy(update={"ledger": ledger}))
    out = await backend_runs.drive(router, a)
    return {"ledger": a.ledger, "features": sorted(k for k, v in on.items() if v), **out}


def _in_schema(url: str, schema: str) -> str:
    """``url`` with its connections' search_path set to ``schema``."""
    return f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"


def _schema(sql: str) -> None:
    import psycopg

    with psycopg.connect(_pg_url(), connect_timeout=2, autocommit=True) as conn:
        conn.execute(sql)


def _run_one(ledger: str, base_url: str, fail_url: str, server_pid: int | None,
             cpu: int | None, concurrency: int, calls: int, seconds: float, pg_url: str,
             env: dict[str, str] | None = None) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--ledger", ledger,
           "--base-url", base_url, "--fail-url", fail_url, "--concurrency", str(concurrency),
           "--calls", str(calls), "--seconds", str(seconds), "--pg-url", pg_url]
    return run_worker(cmd, {"ledger": ledger}, server_pid=server_pid, cpu=cpu,
                      seconds=seconds, env=env)


def _pg_present() -> str | None:
    try:
        import psycopg
    except ImportError:
        return "the psycopg package is not installed (pip install 'polyroute[postgres]')"
    try:
        with psycopg.connect(_pg_url(), connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"no PostgreSQL at {PG_ENV} ({type(exc).__name__}); set {PG_ENV}"
    return None


def measure(base_url: str, fail_url: str, server_pid: int | None, cpu: int | None, *,
            rounds: int = 3, concurrency: int = 64, calls: int = 3000, seconds: float = 4.0,
            env: dict[str, str] | None = None, log: Any = print) -> dict[str, Any]:
    """``{ledger: median result}`` and the PostgreSQL-vs-SQLite row."""
    missing = {"postgres": _pg_present()}
    schema = f"polyroute_bench_{uuid.uuid4().hex[:10]}"
    if not missing["postgres"]:
        _schema(f"CREATE SCHEMA {schema}")
    try:
        runs = backend_runs.rounds(
            LEDGERS, missing, rounds,
            lambda b: _run_one(b, base_url, fail_url, server_pid, cpu, concurrency, calls,
                               seconds, _in_schema(_pg_url(), schema), env),
            log, "ledger")
    finally:
        if not missing["postgres"]:
            _schema(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    out = backend_runs.medians(runs, missing)
    lite, pg = out["sqlite"].get("rps"), out["postgres"].get("rps")
    # reported like the state row; issue 14 sets no bar for the ledger, so no "met"
    row: dict[str, Any] = {"target": "Router.achat req/s at c=64 with ledger.url PostgreSQL "
                                     "vs the SQLite ledger (reported, no bar)", "met": None}
    if lite and pg:
        row.update(measured=f"{pg:.0f} vs {lite:.0f} req/s = {pg / lite:.2f}{X}",
                   margin="reported")
    else:
        row.update(measured=out["postgres"].get("not_present") or out["postgres"].get("error")
                   or out["sqlite"].get("error") or "—", margin="not measurable")
    out["target"] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    backend_runs.worker_args(ap)
    ap.add_argument("--ledger", choices=LEDGERS, default="sqlite")
    ap.add_argument("--pg-url", default=_pg_url())
    a = ap.parse_args()
    if a.worker:
        print(json.dumps(asyncio.run(_worker(a))), flush=True)
        return
    print(json.dumps(backend_runs.against_fake_server(measure, a), indent=1))


if __name__ == "__main__":
    main()
